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
    # The longer (NLTK) list: the short Lucene one keeps "what", "has", "did", "from", which
    # questions are full of and which then match sentences on their form, not their content
    # (bench/RESULTS.md: SQuAD MRR@10 +0.006, seed questions among BBC R@3 0.90 -> 1.00).
    # "won" stays a word: it is listed only as the stem of "won't".
    from bm25s.stopwords import STOPWORDS_EN_PLUS

    return frozenset(STOPWORDS_EN_PLUS) - {"won"}


_STOP: frozenset[str] | None = None


def tokenize(text: str) -> list[str]:
    """Lower-cased, stopword-free, Snowball-stemmed word tokens."""
    global _STOP
    if _STOP is None:
        _STOP = _stopwords()
    words = [w for w in _TOKEN.findall(text.lower()) if w not in _STOP]
    return _stem(words)


def _return_freed_memory() -> None:
    """Hand freed heap pages back to the system (glibc only).

    Building BM25 over a million sentences makes about 16 million short-lived token strings
    (one list per sentence, freed as it goes); glibc keeps the freed pages unless asked.
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
    """BM25 (bm25s, Lucene variant) scores of every sentence for a query.

    Texts go to bm25s as token ids, not token strings: ids drawn from one vocabulary dict
    share their integer objects, so the corpus's words (16 million at a million sentences)
    never exist as separate Python strings at once, and far less freed memory stays with the
    process (bench/RESULTS.md, "Speed and scale").
    """

    def __init__(self, texts: list[str], k1: float = K1, b: float = B):
        import bm25s

        self.size = len(texts)
        self.vocab: dict[str, int] = {}
        ids = [[self.vocab.setdefault(t, len(self.vocab)) for t in tokenize(text)] for text in texts]
        self._empty = not self.vocab
        self._bm25 = bm25s.BM25(k1=k1, b=b, method="lucene")
        if self.size and not self._empty:
            # bm25s keeps this very dict as its vocabulary (adding an empty token "", which
            # tokenize never yields), so there is one vocabulary in memory, not two.
            self._bm25.index((ids, self.vocab), show_progress=False)
        del ids
        _return_freed_memory()

    def query_ids(self, query: str) -> list[int]:
        """Vocabulary ids of the query's distinct tokens that occur in the corpus."""
        return sorted(set(self._ids(query)))

    def _ids(self, query: str) -> list[int]:
        """Vocabulary ids of the query's tokens that occur in the corpus, repeats and order kept."""
        if self.size == 0 or self._empty:
            return []
        return [self.vocab[t] for t in tokenize(query) if t in self.vocab]

    def rows_with(self, token_id: int) -> np.ndarray:
        """The sentences (rows) that contain the token, ascending."""
        indptr = self._bm25.scores["indptr"]
        return self._bm25.scores["indices"][indptr[token_id]:indptr[token_id + 1]]

    def idf(self, token_id: int) -> float:
        indptr = self._bm25.scores["indptr"]
        df = int(indptr[token_id + 1] - indptr[token_id])
        return float(np.log(1 + self.size / max(df, 1)))

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of each sentence (float32, length = number of sentences)."""
        ids = self._ids(query)
        if not ids:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores_from_ids(ids), dtype=np.float32)

    @property
    def nbytes(self) -> int:
        """Bytes held by the score matrix (the vocabulary's strings not counted)."""
        return sum(a.nbytes for a in self._bm25.scores.values() if isinstance(a, np.ndarray))
