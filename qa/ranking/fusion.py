"""Fusion: rank candidate sentences by the registered signals, and decide whether the corpus answers.

Candidates are the top sentences of each retriever (dense through the store, BM25 through
``Features.lexical``), both restricted by the query's filter before they are taken. Each
candidate's score is the weighted sum of the signals of ``qa.ranking.signals``; ``found``
asks whether the best sentence's evidence (its cosine plus ``Settings.evidence_coverage``
times the corpus-IDF share of the question's words it holds) reaches ``Settings.threshold``:
a bare cosine misses questions about things the corpus never names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .features import Features
from .query import Query
from .signals import SIGNALS, Candidates, coverage
from .weights import Settings, Weights

MODES = ("hybrid", "dense", "bm25")


@dataclass(frozen=True)
class Ranked:
    """Ranked rows of one question: (row, score, rows holding the same text), and ``found``."""

    rows: list[tuple[int, float, tuple[int, ...]]]
    found: bool
    confidence: float


@dataclass(frozen=True)
class Fusion:
    """How a search ranks candidates (``weights``) and how deep and how sure it goes (``settings``)."""

    weights: Weights = field(default_factory=Weights)
    settings: Settings = field(default_factory=Settings)

    def rank(self, features: Features, query: Query, qvec: np.ndarray | None, k: int, mode: str) -> Ranked:
        s = self.settings
        corpus = features.corpus
        depth = max(s.depth, s.depth_per_hit * k)
        admitted = corpus.admitted(query.filter)
        if mode == "bm25":
            bm = self._bm25(features, query, admitted)
            cand = _quotable(corpus, _top(bm, depth, admitted))
            score = bm[cand]
            best = cand[np.argmax(score)] if len(cand) else None
            confidence = float(coverage(features, query, np.array([best]))[0]) if best is not None else 0.0
            return self._finish(features, cand, score, k, confidence, confidence >= s.bm25_threshold)
        _, ids = features.store.search(qvec[None, :], depth, query.filter)
        ids = ids[0][ids[0] >= 0]
        dense_rows = _quotable(corpus, np.sort(corpus.rows(ids)))
        if mode == "dense":
            cand = dense_rows
            score = features.similarity(qvec, cand)
        else:
            bm = self._bm25(features, query, admitted)
            cand = np.union1d(dense_rows, _quotable(corpus, _top(bm, depth, admitted)))
            score = self.score(Candidates(features, query, qvec, cand, bm, s))
        confidence = self.evidence(features, query, qvec, int(cand[np.argmax(score)])) if len(cand) else 0.0
        return self._finish(features, cand, score, k, confidence, confidence >= s.threshold)

    @staticmethod
    def _bm25(features: Features, query: Query, admitted: np.ndarray | None) -> np.ndarray:
        lexical = features.lexical
        bm = lexical.scores(query.ids(lexical))
        if admitted is not None:
            bm = np.where(admitted, bm, 0.0).astype(np.float32)
        return bm

    def evidence(self, features: Features, query: Query, qvec: np.ndarray, row: int) -> float:
        """How strongly one sentence answers: cosine plus ``evidence_coverage`` times its word share."""
        rows = np.array([row])
        cosine = float(features.similarity(qvec, rows)[0])
        return cosine + self.settings.evidence_coverage * float(coverage(features, query, rows)[0])

    def score(self, c: Candidates) -> np.ndarray:
        """Hybrid score of each candidate: the weighted sum of the registered signals."""
        score = np.zeros(len(c.rows), dtype=np.float32)
        front_signals = []
        for sig in SIGNALS.values():
            weight = getattr(self.weights, sig.name)
            if not weight:
                continue
            if sig.front:
                front_signals.append((sig, weight))
            else:
                score += weight * sig.fn(c)
        for sig, weight in front_signals:
            front = np.argsort(-score)[:self.settings.phrase_shortlist]
            score[front] += weight * sig.fn(c, front)
        return score

    def _finish(self, features, cand, score, k, confidence, found) -> Ranked:
        order = np.argsort(-score, kind="stable")
        groups = features.groups
        seen: set[int] = set()
        rows = []
        for i in order:
            row = int(cand[i])
            if row in seen:
                continue
            dups = groups.get(row, (row,))
            seen.update(dups)
            rows.append((row, float(score[i]), dups))
            if len(rows) == k:
                break
        return Ranked(rows, bool(found), confidence)


def _quotable(corpus, rows: np.ndarray) -> np.ndarray:
    """Drop subheadings: they give a paragraph its context but answer nothing themselves."""
    return rows[corpus.spans[rows, 4] == 0]


def _top(scores: np.ndarray, depth: int, admitted: np.ndarray | None = None) -> np.ndarray:
    """The rows of the ``depth`` best positive scores (every admitted row when none is positive and few exist)."""
    if len(scores) <= depth:
        rows = np.flatnonzero(scores > 0) if scores.any() else np.arange(len(scores))
        return rows if admitted is None else rows[admitted[rows]]
    top = np.argpartition(-scores, depth)[:depth]
    return top[scores[top] > 0]
