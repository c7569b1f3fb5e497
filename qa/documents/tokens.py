"""Tokens: the words of a text as BM25 counts them — lower-cased, stopword-free, Snowball-stemmed.

Ranking (qa.ranking.lexical) and any store that keeps BM25 itself (Milvus) must count words
the same way, so the one tokenizer lives here, below both.
"""

from __future__ import annotations

import re
import threading

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


def normalized(text: str) -> str:
    """The form in which two sentences count as the same: spacing and case ignored.

    Ranking groups duplicate sentences by it and the Milvus store keys them by its hash, so
    it lives here, below both.

    >>> normalized("  The  Cat\\n sat. ") == normalized("the cat sat.")
    True
    """
    return " ".join(text.split()).casefold()
