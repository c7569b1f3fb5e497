"""Terms: BM25 over a handful of rows, weighted by the statistics of the whole corpus.

A store that keeps its corpus remote (``qa.store.milvus``) cannot hand ranking a BM25 index
over every sentence. It keeps, instead, what BM25 needs from the whole corpus — how many
sentences and articles hold each word, how many words they hold in all — and per question
fetches the few rows ranking looks at. ``TermIndex`` scores those rows exactly as
``qa.ranking.lexical.Lexical`` (bm25s, Lucene variant) scores them over the whole corpus:
the same IDF, the same length normalization, the same float32 rounding, term by term
(tests/store/test_terms.py checks equality). ``Tally`` counts what an article adds to those
statistics, so that a change can add and subtract them.
"""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass, field

import numpy as np

from ..documents.loading import Document
from ..documents.sentences import Span
from ..documents.tokens import B, K1, tokenize


@dataclass(frozen=True)
class Statistics:
    """Corpus-wide BM25 statistics of one unit (sentences or articles): how many there are,
    how many tokens they hold in all, and, for the words asked about, how many hold each."""

    size: int
    tokens: int
    df: dict[str, int] = field(default_factory=dict)

    @property
    def average_length(self) -> np.float64:
        # bm25s takes the mean of the lengths (exact for integer sums): total / count is the same double.
        return np.float64(self.tokens / self.size) if self.size else np.float64(0.0)


class TermIndex:
    """The part of ``Lexical``'s interface ranking reads (``size``, ``ids``, ``rows_with``,
    ``idf``, ``scores``), over the rows of a view, with the corpus's ``Statistics``.

    ``postings`` maps each word asked about to the view rows holding it (ascending) and its
    count in each; ``lengths`` is every view row's token count. Rows outside the index (the
    parts of articles a view holds only some sentences of) are simply in no posting list:
    they score 0.
    """

    def __init__(self, rows: int, postings: dict[str, tuple[np.ndarray, np.ndarray]], lengths: np.ndarray,
                 stats: Statistics, k1: float = K1, b: float = B):
        self.size = stats.size
        self.rows = rows
        self.stats, self.k1, self.b = stats, k1, b
        self.vocab = {t: i for i, t in enumerate(sorted(t for t, df in stats.df.items() if df > 0))}
        self._terms = sorted(self.vocab, key=self.vocab.get)
        empty = (np.zeros(0, np.int64), np.zeros(0, np.float32))
        self._postings = [postings.get(t, empty) for t in self._terms]
        self._lengths = np.asarray(lengths, dtype=np.int64)

    def ids(self, tokens) -> list[int]:
        if self.size == 0 or not self.vocab:
            return []
        vocab = self.vocab
        return [vocab[t] for t in tokens if t in vocab]

    def rows_with(self, token_id: int) -> np.ndarray:
        return self._postings[token_id][0]

    def idf(self, token_id: int) -> float:
        df = self.stats.df[self._terms[token_id]]
        return float(np.log(1 + self.size / max(df, 1)))

    def scores(self, ids: list[int]) -> np.ndarray:
        """BM25 of every view row for the query ``ids`` (repeats count, as in bm25s), float32."""
        out = np.zeros(self.rows, dtype=np.float32)
        avg = self.stats.average_length
        for token_id in ids:
            rows, tf = self._postings[token_id]
            if not len(rows):
                continue
            df = self.stats.df[self._terms[token_id]]
            # bm25s: the IDF is stored as float32, tf is float32, the length part a double;
            # the product is rounded to float32 once, then summed in float32 query term by term.
            idf = np.float32(math.log(1 + (self.size - df + 0.5) / (df + 0.5)))
            tfc = tf / (self.k1 * ((1 - self.b) + self.b * self._lengths[rows] / avg) + tf)
            out[rows] += (idf * tfc).astype(np.float32)
        return out


def postings(token_lists, words) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """Posting lists of ``words`` over ``token_lists`` (None: a row outside the index) and each row's length."""
    words = set(words)
    found: dict[str, tuple[list[int], list[int]]] = {}
    lengths = np.zeros(len(token_lists), dtype=np.int64)
    for row, tokens in enumerate(token_lists):
        if tokens is None:
            continue
        lengths[row] = len(tokens)
        for word, n in collections.Counter(t for t in tokens if t in words).items():
            rows, counts = found.setdefault(word, ([], []))
            rows.append(row)
            counts.append(n)
    return ({w: (np.asarray(r, np.int64), np.asarray(c, np.float32)) for w, (r, c) in found.items()}, lengths)


# The longest word a remote store keeps: the sentence splitter cuts runs without spaces at
# 1,000 characters, so only an article's text outside its sentences (a data: URI, a base64
# header) holds longer ones, which no question asks for and no Milvus field holds (64 KB).
MAX_TERM_CHARS = 1_000


def _words(text: str) -> list[str]:
    return [t for t in tokenize(text) if len(t) <= MAX_TERM_CHARS]


@dataclass
class Tally:
    """What some articles add to the corpus statistics: per word, the sentences and the
    articles holding it; the sentences, articles and tokens they count."""

    sentence_df: collections.Counter = field(default_factory=collections.Counter)
    article_df: collections.Counter = field(default_factory=collections.Counter)
    sentences: int = 0
    articles: int = 0
    sentence_tokens: int = 0
    article_tokens: int = 0

    def add(self, doc: Document, spans: list[Span]) -> None:
        whole = _words(doc.text)
        self.articles += 1
        self.article_tokens += len(whole)
        self.article_df.update(set(whole))
        for span in spans:
            tokens = _words(doc.text[span.start:span.end])
            self.sentences += 1
            self.sentence_tokens += len(tokens)
            self.sentence_df.update(set(tokens))


def article_tokens(doc: Document, spans: list[Span]) -> tuple[list[list[str]], list[str], int]:
    """Each sentence's tokens, the article's tokens outside its sentences (title, dateline: the
    multiset difference, in sorted order) and the article's token count.

    An article's BM25 over its whole text is then its sentences' counts plus these: exact
    whenever the sentences' tokens are among the article's, which they are unless a sentence
    boundary cuts a word in two (``qa.documents.sentences`` cuts runs without spaces).
    """
    sentences = [_words(doc.text[s.start:s.end]) for s in spans]
    whole = _words(doc.text)
    rest = collections.Counter(whole)
    rest.subtract(t for tokens in sentences for t in tokens)
    return sentences, sorted(t for t, n in rest.items() for _ in range(max(n, 0))), len(whole)
