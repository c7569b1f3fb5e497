"""Lexical: BM25 over sentences (stemmed, English stopwords removed), scored as bm25s does."""

from __future__ import annotations

import array
import math
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
    """BM25 (Lucene variant) scores of every sentence for a query.

    The same scores as ``bm25s.BM25(method="lucene")`` (tests/test_lexical.py checks them
    value for value), built differently: each text is tokenized straight to vocabulary ids
    kept in a C array, and the term frequencies are counted with numpy. bm25s wants every
    text's token list at once: at a million sentences that is 16 million Python strings
    and integers, much of whose freed memory stayed with the process (at 1M sentences that
    step added 280 bytes a sentence of resident memory, this build 92; bench/RESULTS.md,
    "Speed and scale").

    Stored as a sparse token-by-sentence matrix in CSC form: for token ``t``, the sentences
    ``indices[indptr[t]:indptr[t + 1]]`` (ascending) hold it and ``data`` the same slice
    holds its BM25 term score there.
    """

    def __init__(self, texts: list[str], k1: float = K1, b: float = B):
        self.size = n = len(texts)
        vocab: dict[str, int] = {}
        ids = array.array("i")
        lengths = np.zeros(n, dtype=np.int64)
        for row, text in enumerate(texts):
            tokens = tokenize(text)
            lengths[row] = len(tokens)
            ids.extend([vocab.setdefault(t, len(vocab)) for t in tokens])
        self.vocab = vocab
        self._empty = len(ids) == 0
        self.indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
        self.indices = np.zeros(0, dtype=np.int32)
        self.data = np.zeros(0, dtype=np.float32)
        if not self._empty:
            self._build(np.frombuffer(ids, dtype=np.int32), lengths, k1, b)
        del ids
        _return_freed_memory()

    def _build(self, token_ids: np.ndarray, lengths: np.ndarray, k1: float, b: float) -> None:
        n, n_vocab = self.size, len(self.vocab)
        # One key per (token, sentence) occurrence; sorted, equal keys are one term's frequency.
        keys = token_ids.astype(np.int64) * n + np.repeat(np.arange(n, dtype=np.int64), lengths)
        keys.sort()
        first = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
        tf = np.diff(np.append(first, len(keys))).astype(np.float64)
        keys = keys[first]
        tokens, rows = np.divmod(keys, n)
        del keys, first
        df = np.bincount(tokens, minlength=n_vocab)
        self.indptr[1:] = np.cumsum(df)
        self.indices = rows.astype(np.int32)
        # The arithmetic of bm25s, operation for operation (float64, idf rounded to float32
        # first, the product rounded to float32), so that scores match it bit for bit.
        idf = np.array([math.log(1 + (n - d + 0.5) / (d + 0.5)) for d in df.tolist()], dtype=np.float32)
        length = lengths[rows].astype(np.float64)
        tfc = tf / (k1 * ((1 - b) + b * length / lengths.mean()) + tf)
        self.data = (idf[tokens].astype(np.float64) * tfc).astype(np.float32)

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
        return self.indices[self.indptr[token_id]:self.indptr[token_id + 1]]

    def idf(self, token_id: int) -> float:
        df = int(self.indptr[token_id + 1] - self.indptr[token_id])
        return float(np.log(1 + self.size / max(df, 1)))

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of each sentence (float32, length = number of sentences)."""
        scores = np.zeros(self.size, dtype=np.float32)
        # Token by token in query order, a repeated token counted again: as bm25s sums.
        for t in self._ids(query):
            lo, hi = self.indptr[t], self.indptr[t + 1]
            scores[self.indices[lo:hi]] += self.data[lo:hi]  # a token's rows are distinct
        return scores

    @property
    def nbytes(self) -> int:
        """Bytes held by the score matrix (the vocabulary's strings not counted)."""
        return self.indptr.nbytes + self.indices.nbytes + self.data.nbytes
