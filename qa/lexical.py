"""Lexical: BM25 over sentences with bm25s (stemmed, English stopwords removed)."""

from __future__ import annotations

import re
import threading

import numpy as np

# Tuned on SQuAD (bench/RESULTS.md): short sentences want a low b and a low k1.
K1 = 0.9
B = 0.4
_TOKEN = re.compile(r"(?u)\b\w\w+\b")
_local = threading.local()


def _stem(words: list[str]) -> list[str]:
    # PyStemmer objects are not thread-safe; one per thread.
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        import Stemmer

        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    return stemmer.stemWords(words)


def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


_STOP: frozenset[str] | None = None


def tokenize(text: str) -> list[str]:
    """Lower-cased, stopword-free, Snowball-stemmed word tokens."""
    global _STOP
    if _STOP is None:
        _STOP = _stopwords()
    words = [w for w in _TOKEN.findall(text.lower()) if w not in _STOP]
    return _stem(words)


def _return_freed_memory() -> None:
    """Hand the heap pages freed by the token lists back to the system (glibc only).

    Building BM25 makes one short-lived string per word of the corpus; glibc keeps the freed
    pages, so without this a million-sentence index holds about a kilobyte per sentence of
    memory it no longer uses.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        if libc is not None and hasattr(libc, "malloc_trim"):
            libc.malloc_trim(0)
    except OSError:
        pass


class Lexical:
    """BM25 scores of every sentence for a query."""

    def __init__(self, texts: list[str], k1: float = K1, b: float = B):
        import bm25s

        self.size = len(texts)
        self._bm25 = bm25s.BM25(k1=k1, b=b, method="lucene")
        tokens = [tokenize(t) for t in texts]
        self._empty = not any(tokens)
        if self.size and not self._empty:
            self._bm25.index(tokens, show_progress=False)
        del tokens
        _return_freed_memory()

    def query_ids(self, query: str) -> list[int]:
        """Vocabulary ids of the query's distinct tokens that occur in the corpus."""
        if self.size == 0 or self._empty:
            return []
        return sorted(set(self._bm25.get_tokens_ids(tokenize(query))))

    def rows_with(self, token_id: int) -> np.ndarray:
        """The sentences (rows) that contain the token."""
        indptr = self._bm25.scores["indptr"]
        return self._bm25.scores["indices"][indptr[token_id]:indptr[token_id + 1]]

    def idf(self, token_id: int) -> float:
        indptr = self._bm25.scores["indptr"]
        df = int(indptr[token_id + 1] - indptr[token_id])
        return float(np.log(1 + self.size / max(df, 1)))

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of each sentence (float32, length = number of sentences)."""
        tokens = tokenize(query)
        if self.size == 0 or self._empty or not tokens:
            return np.zeros(self.size, dtype=np.float32)
        ids = self._bm25.get_tokens_ids(tokens)
        if not ids:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores_from_ids(ids), dtype=np.float32)
