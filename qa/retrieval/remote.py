"""Ranking over a store that keeps its corpus remote (Milvus): the same ranking, per question.

The local store hands ranking its whole corpus once (``Features``). A remote store
(``qa.store.base.RemoteStore``) hands it, per question, the rows that question is ranked on
(``qa.store.neighbourhood``); ``ViewFeatures`` makes those rows look to ``Fusion`` and to
the hits exactly like a local store's features: the same corpus interface, BM25 and word
shares weighted by the whole corpus's statistics, the store's own dense search. Ranking
code does not know which one it runs on.
"""

from __future__ import annotations

import functools
import time

import numpy as np

from ..ranking.absent import article_words
from ..ranking.answertype import AnswerTypes
from ..ranking.features import Features
from ..ranking.forms import SentenceForms
from ..ranking.query import Query
from ..ranking.weights import Settings


# How often a question first re-reads a remote store's manifest to follow other writers'
# commits (one primary-key read): a change deletes the rows retired two generations back,
# and a commit took ~50 ms on milvus-lite here (one article, five in a row), so a reader
# that checked once a second could fall two commits behind and miss articles without an
# error. 0: every question reads it, one call more than the view's five.
FOLLOW_SECONDS = 0.0


class RemoteFeatures:
    """What a Retriever holds for a remote store: the store itself, and per question its view.
    The store follows the generation other writers commit (``FOLLOW_SECONDS``)."""

    def __init__(self, store):
        self.store = store
        self._followed = time.monotonic()

    def _follow(self) -> None:
        now = time.monotonic()
        if now - self._followed >= FOLLOW_SECONDS and hasattr(self.store, "latest"):
            self.store, self._followed = self.store.latest(), now

    def for_question(self, query: Query, qvec: np.ndarray | None, k: int, mode: str, settings: Settings,
                     whole: bool = False) -> "ViewFeatures":
        # The depth Fusion.rank asks each retriever for; the view holds at least that much.
        depth = max(settings.depth, settings.depth_per_hit * k)
        self._follow()
        hood = self.store.neighbourhood(qvec, query.tokens, depth, query.filter, dense=mode != "bm25",
                                        lexical=mode != "dense", whole=whole)
        return ViewFeatures(hood, whole)


class ViewFeatures(Features):
    """``Features`` over one question's neighbourhood: its corpus and store, its term indexes
    (BM25 and IDF as over the whole corpus) and its duplicate groups; the rest (paragraphs,
    forms, answer types) built from its rows as for any corpus."""

    def __init__(self, hood, whole: bool = False):
        super().__init__(hood.store)
        self.neighbourhood = hood
        # Sentence forms of every row read whole when the articles were (the re-ranker asks
        # whether a candidate's neighbours point back), else of the possible candidates only.
        self._formed = hood.known if whole else hood.candidates
        self._lexical = hood.sentence_index
        self._document_lexical = hood.article_index
        self._groups = hood.groups()
        # A view's article text holds its fetched sentences alone; the local store's holds the
        # title line too, where the names a question asks about are most often written.
        docs = self.corpus.documents
        self.article_words = functools.lru_cache(maxsize=256)(lambda d: article_words(f"{docs[d].title}\n{docs[d].text}"))

    @property
    def answer_types(self) -> AnswerTypes:
        return self._once("_answer_types", lambda: _known_only(AnswerTypes, self.corpus, self.neighbourhood.candidates))

    @property
    def forms(self) -> SentenceForms:
        return self._once("_forms", lambda: _known_only(SentenceForms, self.corpus, self._formed))


def _known_only(kind, corpus, known: np.ndarray):
    """``kind`` (answer types, sentence forms: one flag array per property) of the rows that
    may be candidates (the only ones ranking asks about), False elsewhere: the others cost a
    regex each for nothing."""
    rows = np.flatnonzero(known)
    built = kind([corpus.sentence_text(int(r)) for r in rows])
    for name, value in vars(built).items():
        if isinstance(value, np.ndarray) and value.shape == (len(rows),):
            full = np.zeros(len(known), dtype=value.dtype)
            full[rows] = value
            setattr(built, name, full)
    return built


def features_for(store, previous=None):
    """The features a Retriever keeps for ``store``: built once for a local store, per question for a remote one."""
    if is_remote(store):
        return RemoteFeatures(store)
    return Features(store, previous)


def is_remote(store) -> bool:
    # On the class: a Protocol isinstance check would read every property, the remote corpus included.
    return callable(getattr(type(store), "neighbourhood", None))


def question_features(features, query: Query, qvec, k: int, mode: str, settings: Settings, whole: bool = False):
    """The features one question is ranked on: ``features`` itself, or a remote store's view
    (``whole``: with its candidates' articles whole, for a ranking that reads them)."""
    if isinstance(features, RemoteFeatures):
        return features.for_question(query, qvec, k, mode, settings, whole)
    return features
