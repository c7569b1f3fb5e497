"""Features: one store generation plus what ranking derives from its sentences, built lazily.

BM25 over sentences and over whole articles, answer types, sentence forms, paragraph
bounds and duplicate groups all depend only on the corpus, so they are built once per
generation (on first use, at most once across threads) and carried to the next
generation when only its number changed (a save).
"""

from __future__ import annotations

import functools
import threading

import numpy as np

from ..documents.tokens import normalized  # noqa: F401  (also read from here)
from ..store.base import SentenceStore
from ..store.corpus import Corpus, hash_texts
from .absent import absent_terms, article_words, question_terms
from .answertype import AnswerTypes
from .forms import SentenceForms
from .lexical import Lexical, tokenize

_BUILT = ("_lexical", "_groups", "_paragraphs", "_answer_types", "_forms", "_document_lexical")


class Features:
    """An immutable store generation plus lazily built search structures."""

    def __init__(self, store: SentenceStore, previous: "Features | None" = None):
        self.store = store
        self.corpus: Corpus = store.corpus
        # A store keeping its vectors in corpus row order (the local one) can be asked by row,
        # which spares an id-to-row lookup on every similarity (a tenth of a query's time at
        # 5k sentences); any other store is asked by id, through the contract.
        self._similarity_rows = getattr(store, "similarity_rows", None)
        self._lock = threading.Lock()
        # Word pairs of sentences met as candidates: repeated questions on one corpus meet the
        # same sentences again, and tokenizing is the costly part of the phrase signal.
        self.word_pairs = functools.lru_cache(maxsize=65_536)(self._word_pairs)
        # The folded words of articles whose sentences came first: what ``absent`` compares.
        self.article_words = functools.lru_cache(maxsize=4_096)(lambda doc: article_words(self.corpus.documents[doc].text))
        # A save only renumbers the generation: reuse what the previous features built.
        same = previous is not None and previous.corpus.spans is self.corpus.spans
        for name in _BUILT:
            setattr(self, name, getattr(previous, name) if same else None)

    def _word_pairs(self, row: int) -> frozenset[tuple[str, str]]:
        tokens = tokenize(self.corpus.sentence_text(row))
        return frozenset(zip(tokens, tokens[1:]))

    def _once(self, name: str, build):
        """The structure cached as ``name``, built by ``build()`` at most once across threads."""
        value = getattr(self, name)
        if value is None:
            with self._lock:
                value = getattr(self, name)
                if value is None:
                    value = build()
                    setattr(self, name, value)
        return value

    @property
    def lexical(self) -> Lexical:
        return self._once("_lexical", lambda: Lexical(self.corpus.texts()))

    @property
    def document_lexical(self) -> Lexical:
        """BM25 over whole articles: which article is the question about?"""
        return self._once("_document_lexical", lambda: Lexical([d.text for d in self.corpus.documents]))

    @property
    def answer_types(self) -> AnswerTypes:
        return self._once("_answer_types", lambda: AnswerTypes(self.corpus.texts()))

    @property
    def forms(self) -> SentenceForms:
        return self._once("_forms", lambda: SentenceForms(self.corpus.texts()))

    @property
    def paragraphs(self) -> tuple[np.ndarray, np.ndarray]:
        """For each row, the first and one-past-last row of its paragraph."""
        return self._once("_paragraphs", self._build_paragraphs)

    def _build_paragraphs(self) -> tuple[np.ndarray, np.ndarray]:
        spans = self.corpus.spans
        n = len(spans)
        key_change = np.ones(n, dtype=bool)
        if n > 1:
            key_change[1:] = (spans[1:, 0] != spans[:-1, 0]) | (spans[1:, 3] != spans[:-1, 3])
        starts_idx = np.flatnonzero(key_change)
        group = np.cumsum(key_change) - 1
        ends_idx = np.append(starts_idx[1:], n)
        return starts_idx[group], ends_idx[group]

    @property
    def groups(self) -> dict[int, tuple[int, ...]]:
        """Rows whose sentence text also appears elsewhere, mapped to all rows holding it."""
        return self._once("_groups", self._build_groups)

    def _build_groups(self) -> dict[int, tuple[int, ...]]:
        # Rows are grouped by a 64-bit hash of the normalized text, and a group's texts are
        # compared before it is kept, so a collision never merges two sentences. A dict keyed
        # by the texts themselves held every sentence's string at once: about 400 bytes a
        # sentence at a million (bench/scale.py warmup-memory), against 16 for the hashes.
        keys = hash_texts(normalized(t) for t in self.corpus.texts())
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        same = sorted_keys[1:] == sorted_keys[:-1]  # same[i]: position i's key equals the next one's
        groups: dict[int, tuple[int, ...]] = {}
        for start in np.flatnonzero(same & np.r_[True, ~same[:-1]]).tolist():  # first of each run
            end = start + 1
            while end < len(order) and sorted_keys[end] == sorted_keys[start]:
                end += 1
            by_text: dict[str, list[int]] = {}
            for row in sorted(order[start:end].tolist()):
                by_text.setdefault(normalized(self.corpus.sentence_text(row)), []).append(row)
            groups.update({r: tuple(rows) for rows in by_text.values() if len(rows) > 1 for r in rows})
        return groups

    def absent(self, question: str, row: int) -> tuple[int, int]:
        """How many of the question's names, years and numbers the article of ``row`` lacks, and of how many."""
        terms = question_terms(question)
        if not terms:
            return 0, 0
        return len(absent_terms(question, self.article_words(int(self.corpus.spans[row, 0])))), len(terms)

    def similarity(self, qvec: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Cosine of the question with the sentences at ``rows``."""
        if self._similarity_rows is not None:
            return self._similarity_rows(qvec, rows)
        return self.store.similarity(qvec, self.corpus.ids[rows])
