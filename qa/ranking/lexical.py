"""Lexical: BM25 over sentences with bm25s (stemmed, English stopwords removed).

A question is tokenized once, into its ``Query``; this module then works on tokens and ids.
"""

from __future__ import annotations

import numpy as np

from ..documents.tokens import B, K1, tokenize  # noqa: F401  (K1, B: this module's BM25 defaults)


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

    def ids(self, tokens: tuple[str, ...] | list[str]) -> list[int]:
        """Vocabulary ids of the tokens that occur in the corpus, repeats and order kept."""
        if self.size == 0 or self._empty:
            return []
        vocab = self.vocab
        return [vocab[t] for t in tokens if t in vocab]

    def rows_with(self, token_id: int) -> np.ndarray:
        """The sentences (rows) that contain the token, ascending."""
        indptr = self._bm25.scores["indptr"]
        return self._bm25.scores["indices"][indptr[token_id]:indptr[token_id + 1]]

    def idf(self, token_id: int) -> float:
        indptr = self._bm25.scores["indptr"]
        df = int(indptr[token_id + 1] - indptr[token_id])
        return float(np.log(1 + self.size / max(df, 1)))

    def scores(self, ids: list[int]) -> np.ndarray:
        """BM25 score of each text for a query given as vocabulary ids (``ids``), float32."""
        if not ids:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores_from_ids(ids), dtype=np.float32)

    @property
    def nbytes(self) -> int:
        """Bytes held by the score matrix (the vocabulary's strings not counted)."""
        return sum(a.nbytes for a in self._bm25.scores.values() if isinstance(a, np.ndarray))
