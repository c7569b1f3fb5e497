"""Signals: each one function of the candidates, registered once, weighted by ``Weights``.

A signal takes the ``Candidates`` of one question (the parsed ``Query``, the candidate rows,
their cosines, the BM25 scores) and returns one float per candidate. Adding a signal is a
function here with ``@signal`` plus a field of the same name in ``qa.ranking.weights.Weights``
(tests/ranking/test_signals.py checks the two sets agree). Signals on an open scale are
min-max normalized over the candidates; shares and flags are already in [0, 1].

A ``front`` signal is costly per candidate and only reorders the top of the list: it runs
last, on the ``Settings.phrase_shortlist`` best candidates by the other signals.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Callable

import numpy as np

from .features import Features
from .query import Query
from .weights import Settings


@dataclass(frozen=True)
class Signal:
    name: str
    fn: Callable
    front: bool = False


SIGNALS: dict[str, Signal] = {}


def signal(fn=None, *, front: bool = False):
    """Register ``fn`` as the signal named after it."""
    def register(f):
        SIGNALS[f.__name__] = Signal(f.__name__, f, front)
        return f
    return register(fn) if fn is not None else register


class Candidates:
    """What every signal reads for one question: the query, the candidate rows and their scores."""

    def __init__(self, features: Features, query: Query, qvec: np.ndarray, rows: np.ndarray,
                 bm25: np.ndarray, settings: Settings):
        self.features, self.query, self.qvec, self.rows = features, query, qvec, rows
        self.bm25 = bm25  # BM25 of every sentence (the candidates' are ``bm25[rows]``)
        self.settings = settings

    @cached_property
    def cosine(self) -> np.ndarray:
        return self.features.similarity(self.qvec, self.rows)

    @cached_property
    def local(self) -> tuple[np.ndarray, np.ndarray]:
        return local_coverage_pair(self.features, self.query, self.rows)


def minmax(x: np.ndarray) -> np.ndarray:
    lo, hi = (float(x.min()), float(x.max())) if len(x) else (0.0, 0.0)
    return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)


# -- the signals ------------------------------------------------------------------------

@signal
def dense(c: Candidates) -> np.ndarray:
    return minmax(c.cosine)


@signal
def bm25(c: Candidates) -> np.ndarray:
    return minmax(c.bm25[c.rows])


@signal
def paragraph_dense(c: Candidates) -> np.ndarray:
    """Mean cosine of the question with the sentences of each candidate's paragraph."""
    starts, ends = c.features.paragraphs
    first, where = np.unique(starts[c.rows], return_inverse=True)
    lengths = ends[first] - first
    # Every row of every candidate paragraph, in one gather and one product.
    offsets = np.repeat(np.cumsum(lengths) - lengths, lengths)
    rows = np.repeat(first, lengths) + np.arange(int(lengths.sum())) - offsets
    sums = np.add.reduceat(c.features.similarity(c.qvec, rows), np.cumsum(lengths) - lengths)
    return minmax((sums / lengths)[where].astype(np.float32))


@signal
def document_bm25(c: Candidates) -> np.ndarray:
    index = c.features.document_lexical
    docs = c.features.corpus.spans[c.rows, 0]
    return minmax(index.scores(c.query.ids(index))[docs])


@signal
def local_coverage(c: Candidates) -> np.ndarray:
    return c.local[0]


@signal
def local_paragraph_coverage(c: Candidates) -> np.ndarray:
    return c.local[1]


@signal
def question_sentence(c: Candidates) -> np.ndarray:
    return c.features.forms.question[c.rows].astype(np.float32)


@signal
def answer_type(c: Candidates) -> np.ndarray:
    return c.features.answer_types.match(c.query.answer_type, c.rows)


@signal(front=True)
def phrase(c: Candidates, front: np.ndarray) -> np.ndarray:
    """Share (capped at ``Settings.phrase_pairs``) of the question's word pairs in each front candidate."""
    pairs = c.query.pairs
    out = np.zeros(len(front), dtype=np.float32)
    if not pairs:
        return out
    cap = c.settings.phrase_pairs
    for i, row in enumerate(c.rows[front]):
        out[i] = min(len(pairs & c.features.word_pairs(int(row))), cap) / cap
    return out


# -- word shares ------------------------------------------------------------------------

def _member(sorted_values: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``np.isin(x, sorted_values)`` for an ascending array, without hashing it."""
    if len(sorted_values) == 0:
        return np.zeros(len(x), dtype=bool)
    i = np.minimum(np.searchsorted(sorted_values, x), len(sorted_values) - 1)
    return sorted_values[i] == x


def coverage(features: Features, query: Query, rows: np.ndarray) -> np.ndarray:
    """Corpus-IDF-weighted share of the question's distinct words present in each row."""
    lexical = features.lexical
    cov = np.zeros(len(rows), dtype=np.float32)
    if not query.words:
        return cov
    ids = query.distinct_ids(lexical)
    unseen = len(query.words) - len(ids)
    total = sum(lexical.idf(t) for t in ids) + unseen * float(np.log(1 + max(lexical.size, 1)))
    for t in ids:
        cov += (lexical.idf(t) / total) * _member(lexical.rows_with(t), rows)
    return cov


def local_coverage_pair(features: Features, query: Query, cand: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Share of the question's words in each candidate and in its paragraph, weighted locally.

    Each word weighs its IDF among the sentences of the candidate's own article (an article's
    subject, named in most of its sentences, tells them apart poorly); a word the article
    lacks weighs like the article's rarest word. A candidate that points back to the
    sentence before it ("They received training in ...") counts that sentence's words too.
    """
    lexical = features.lexical
    cov = np.zeros(len(cand), dtype=np.float32)
    pcov = np.zeros(len(cand), dtype=np.float32)
    if not query.words or len(cand) == 0:
        return cov, pcov
    corpus = features.corpus
    docs = corpus.spans[cand, 0]
    bounds = corpus.doc_rows()
    doc_start, doc_end = bounds[docs], bounds[docs + 1]
    n_doc = (doc_end - doc_start).astype(np.float32)
    paragraph_of = features.paragraphs[0]
    cand_paragraphs = paragraph_of[cand]
    # News paragraphs are short: "They ..." often opens a paragraph about the last one's subject.
    # A subheading in between ends the reference.
    previous = np.maximum(cand - 1, 0)
    points_back = features.forms.refers_back[cand] & (cand > doc_start) & (corpus.spans[previous, 4] == 0)
    before = np.where(points_back, previous, cand)
    ids = query.distinct_ids(lexical)
    total = (len(query.words) - len(ids)) * np.log1p(n_doc)
    for t in ids:
        rows = lexical.rows_with(t)
        df = np.searchsorted(rows, doc_end) - np.searchsorted(rows, doc_start)
        weight = np.log1p(n_doc / np.maximum(df, 1))
        total = total + weight
        cov += weight * (_member(rows, cand) | _member(rows, before))
        # Posting lists are in row order, so their paragraphs' first rows are sorted too.
        pcov += weight * _member(paragraph_of[rows], cand_paragraphs)
    return cov / total, pcov / total
