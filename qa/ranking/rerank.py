"""Re-ranking: a learned second stage over the front of the hand-scored candidates.

The hand-set signals (``qa.ranking.signals``) choose the article well and the sentence
within it less well: readers' questions echo the headline, which the article's first
sentence restates, while the answer (the reason, the price, the date) sits further on,
often beside a sentence that repeats the question's words. The re-ranker reads each front
candidate with its neighbours: the nine signals, the cosine and word share of the sentences
before and after it, its place in the article, the best cosine in its article, and the hand
score and rank. A logistic regression over them (fitted by ``bench/fit_rerank.py`` with
5-fold cross-validation by article over squad-dev-a and the news questions; the held-out
folds' figures are in bench/RESULTS.md) orders the front; its log-odds are the hits' scores.

The model is a JSON file (``rerank.json`` beside this module, a ``qa.ranking.models.LinearModel``).

>>> model = Reranker.packaged()
>>> model.names == FEATURES
True
"""

from __future__ import annotations

import numpy as np

from .models import LinearModel, packaged
from .signals import SIGNALS, Candidates, coverage, local_coverage_pair, minmax

FORMAT = "qa.rerank/1"
MODEL_FILE = "rerank.json"

# The nine hand signals first (the values the hand score sums), then what they do not see.
SIGNAL_FEATURES = ("dense", "bm25", "paragraph_dense", "document_bm25", "local_coverage",
                   "local_paragraph_coverage", "question_sentence", "answer_type", "phrase")
FEATURES = SIGNAL_FEATURES + (
    "cosine",               # the raw cosine (the signals' is min-max over the candidates)
    "coverage",             # corpus-IDF share of the question's words in the sentence
    "hand",                 # the hand score (min-max over the front)
    "hand_rank",            # log1p of the hand rank (0 for the first)
    "prev_cosine",          # the sentence before's cosine (min-max over the front; 0 if none)
    "next_cosine",          # the sentence after's
    "prev_local",           # the sentence before's article-local word share
    "next_local",           # the sentence after's
    "prev_same_paragraph",  # a sentence before it in the same paragraph
    "next_same_paragraph",  # ... after it
    "article_best",         # the best cosine among the article's sentences
    "position",             # log1p of the sentence's place in its article (0 for the first)
    # The lede (the article's first sentence) without the type of thing asked for: it restates
    # the headline, which readers' questions echo. A plain lede flag penalised every lede and
    # lost the seed questions' (bench/RESULTS.md, "The learned re-ranker").
    "first_untyped",
    "refers_back",          # a pronoun or demonstrative that may point to the sentence before
)


class Reranker(LinearModel):
    """The re-ranking model: a ``LinearModel`` over ``FEATURES`` whose log-odds order the front."""

    def score(self, x: np.ndarray) -> np.ndarray:
        """Log-odds that each row of ``x`` (one per candidate, ``FEATURES`` columns) is an answer."""
        return self.decision(x)

    @classmethod
    def of(cls, mean, scale, coef, intercept: float, fitted_on: str = "") -> "Reranker":
        return cls(FORMAT, FEATURES, np.asarray(mean, float), np.asarray(scale, float), np.asarray(coef, float),
                   float(intercept), {}, fitted_on)

    @classmethod
    def read(cls, path) -> "Reranker":
        return cls(**vars(LinearModel.load(path, FORMAT, FEATURES)))

    @staticmethod
    def packaged() -> "Reranker":
        """The model shipped with qa (read once per process)."""
        return Reranker(**vars(packaged(MODEL_FILE, FORMAT, FEATURES)))


def features(c: Candidates, signals: dict[str, np.ndarray], hand: np.ndarray, front: np.ndarray) -> np.ndarray:
    """The ``FEATURES`` matrix of the candidates at positions ``front`` (best hand score first).

    ``signals`` holds each hand signal's values over all candidates (the phrase signal's
    over ``front``), ``hand`` the hand score of every candidate.
    """
    fx, corpus = c.features, c.features.corpus
    rows = c.rows[front]
    n = len(rows)
    bounds = corpus.doc_rows()
    docs = corpus.spans[rows, 0]
    start, end = bounds[docs], bounds[docs + 1]
    has_prev, has_next = rows > start, rows + 1 < end
    prev, nxt = np.where(has_prev, rows - 1, rows), np.where(has_next, rows + 1, rows)
    neighbours = np.concatenate([prev, nxt])
    near_cos = fx.similarity(c.qvec, neighbours)
    near_local = local_coverage_pair(fx, c.query, neighbours)[0]
    prev_cos, next_cos = np.where(has_prev, near_cos[:n], 0.0), np.where(has_next, near_cos[n:], 0.0)
    prev_local, next_local = np.where(has_prev, near_local[:n], 0.0), np.where(has_next, near_local[n:], 0.0)
    paragraph_of = fx.paragraphs[0]
    # The best cosine of each candidate article: every row of those articles, one product.
    article, where = np.unique(docs, return_inverse=True)
    first_rows = bounds[article]
    lengths = bounds[article + 1] - first_rows
    offsets = np.repeat(np.cumsum(lengths) - lengths, lengths)
    article_rows = np.repeat(first_rows, lengths) + np.arange(int(lengths.sum())) - offsets
    best = np.maximum.reduceat(fx.similarity(c.qvec, article_rows), np.cumsum(lengths) - lengths)[where]
    position = rows - start
    # A front signal's values are already over ``front``; the others' over every candidate.
    columns = [signals[name] if SIGNALS[name].front else signals[name][front] for name in SIGNAL_FEATURES] + [
        c.cosine[front], coverage(fx, c.query, rows), minmax(hand[front]), np.log1p(np.arange(n)),
        minmax(prev_cos), minmax(next_cos), prev_local, next_local,
        has_prev & (paragraph_of[prev] == paragraph_of[rows]), has_next & (paragraph_of[nxt] == paragraph_of[rows]),
        best, np.log1p(position), (position == 0) & (signals["answer_type"][front] == 0), fx.forms.refers_back[rows],
    ]
    return np.column_stack([np.asarray(col, dtype=np.float64) for col in columns])
