"""Fusion: rank candidate sentences by the registered signals, and decide whether the corpus answers.

Candidates are the top sentences of each retriever (dense through the store, BM25 through
``Features.lexical``), both restricted by the query's filter before they are taken. Each
candidate's score is the weighted sum of the signals of ``qa.ranking.signals``; ``found``
asks whether the best sentence's evidence (its cosine plus ``Settings.evidence_coverage``
times the corpus-IDF share of the question's words it holds) reaches ``Settings.threshold``:
a bare cosine misses questions about things the corpus never names.

``Fusion.learned()`` (opt-in) adds a learned second stage in hybrid mode: the re-ranker
(``qa.ranking.rerank``) orders the ``Settings.rerank_depth`` best candidates by the hand
score, reading each with its neighbours and its place in the article, and the calibrator
(``qa.ranking.calibration``) turns the best one's evidence into the probability that it
answers, from which ``found`` follows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import calibration, rerank
from .calibration import Calibrator
from .features import Features
from .query import Query
from .rerank import Reranker
from .signals import SIGNALS, Candidates, coverage
from .weights import Settings, Weights

MODES = ("hybrid", "dense", "bm25")


@dataclass(frozen=True)
class Ranked:
    """Ranked rows of one question: (row, score, rows holding the same text), and ``found``."""

    rows: list[tuple[int, float, tuple[int, ...]]]
    found: bool
    confidence: float
    evidence: np.ndarray | None = None  # the calibrator's inputs (``qa.ranking.calibration.FEATURES``), when it ran


@dataclass(frozen=True)
class Fusion:
    """How a search ranks candidates (``weights``) and how deep and how sure it goes (``settings``)."""

    weights: Weights = field(default_factory=Weights)
    settings: Settings = field(default_factory=Settings)
    reranker: Reranker | None = None
    calibrator: Calibrator | None = None
    # Also return the calibrator's inputs when no calibrator runs (bench/fit_rerank.py fits on them).
    explain: bool = False

    @classmethod
    def learned(cls, **fields) -> "Fusion":
        """The opt-in learned ranking: the re-ranker, and ``found`` from the calibrator fitted over it.

        Better on questions in readers' own words, a little worse on SQuAD-style ones and on
        the news conversations (bench/RESULTS.md, "The learned re-ranker"), so not the default.

        >>> Fusion.learned().reranker is not None
        True
        """
        return cls(reranker=Reranker.packaged(), calibrator=Calibrator.packaged(), **fields)

    @property
    def reads_articles(self) -> bool:
        """Whether ranking reads more of a candidate's article than its paragraph: the
        re-ranker (every sentence's cosine, both neighbours) and the calibrator's inputs (the
        names missing from the article). A remote store then fetches candidates' articles whole."""
        return self.reranker is not None or self.calibrator is not None or self.explain

    def threshold(self, mode: str = "hybrid") -> float:
        """The confidence at which a search in ``mode`` says "found" (a probability when calibrated).

        >>> Fusion().threshold() == Settings().threshold, Fusion().threshold("bm25") == Settings().bm25_threshold
        (True, True)
        """
        if mode == "bm25":
            return self.settings.bm25_threshold
        if mode == "hybrid" and self.calibrator is not None:
            return self.calibrator.threshold
        return self.settings.threshold

    def sure(self, mode: str = "hybrid") -> float | None:
        """The confidence from which a found answer is sure, when calibrated (else None).

        Calibrated, confidence is the probability that the first quote answers: sure from
        ``calibration.SURE_PROBABILITY`` (more likely than not) or the found threshold, the higher.

        >>> Fusion().sure() is None, Fusion.learned().sure() >= 0.5
        (True, True)
        """
        if mode == "hybrid" and self.calibrator is not None:
            return max(calibration.SURE_PROBABILITY, self.calibrator.threshold)
        return None

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
        if mode == "dense":
            cand = self._dense_rows(features, query, qvec, depth)
            score = features.similarity(qvec, cand)
        else:
            c = self.candidates(features, query, qvec, k)
            if not len(c.rows):
                return self._finish(features, c.rows, np.zeros(0, dtype=np.float32), k, 0.0, False)
            if self.reranker is None:
                where, score = np.arange(len(c.rows)), self.score(c)
            else:
                where, x = self.front(c, max(s.rerank_depth, k))
                score = self.reranker.score(x)
            cand, best = c.rows[where], int(np.argmax(score))
            evidence = None
            if self.calibrator is not None or self.explain:
                evidence = calibration.features(c, int(where[best]), where, features.absent(query.text, int(cand[best])))
            if self.calibrator is not None:
                confidence = float(self.calibrator.probability(evidence[None, :])[0])
                found = confidence >= self.calibrator.threshold
            else:
                confidence = self.evidence(features, query, qvec, int(cand[best]))
                found = confidence >= s.threshold
            return self._finish(features, cand, score, k, confidence, found, evidence)
        confidence = self.evidence(features, query, qvec, int(cand[np.argmax(score)])) if len(cand) else 0.0
        return self._finish(features, cand, score, k, confidence, confidence >= s.threshold)

    def candidates(self, features: Features, query: Query, qvec: np.ndarray, k: int) -> Candidates:
        """The hybrid candidates of one question: the top of the dense and the BM25 retriever, filtered.

        What ``rank`` scores in hybrid mode; ``bench/fit_rerank.py`` reads them to fit the re-ranker.
        """
        s = self.settings
        depth = max(s.depth, s.depth_per_hit * k)
        admitted = features.corpus.admitted(query.filter)
        bm = self._bm25(features, query, admitted)
        rows = np.union1d(self._dense_rows(features, query, qvec, depth),
                          _quotable(features.corpus, _top(bm, depth, admitted)))
        return Candidates(features, query, qvec, rows, bm, s)

    @staticmethod
    def _dense_rows(features: Features, query: Query, qvec: np.ndarray, depth: int) -> np.ndarray:
        _, ids = features.store.search(qvec[None, :], depth, query.filter)
        ids = ids[0][ids[0] >= 0]
        return _quotable(features.corpus, np.sort(features.corpus.rows(ids)))

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
        return self._hand(c)[0]

    def _hand(self, c: Candidates, every: bool = False) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The hand score, and each signal's values (all of them when ``every``, else the weighted ones)."""
        score = np.zeros(len(c.rows), dtype=np.float32)
        values, front_signals = {}, []
        for sig in SIGNALS.values():
            weight = getattr(self.weights, sig.name)
            if not weight and not every:
                continue
            if sig.front:
                front_signals.append((sig, weight))
            else:
                values[sig.name] = sig.fn(c)
                score += weight * values[sig.name]
        for sig, weight in front_signals:
            front = np.argsort(-score)[:self.settings.phrase_shortlist]
            score[front] += weight * sig.fn(c, front)
        return score, values

    def front(self, c: Candidates, depth: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``depth`` best candidates by the hand score (positions in ``c.rows``) and their re-ranking features."""
        hand, values = self._hand(c, every=True)
        front = np.argsort(-hand, kind="stable")[:depth]
        values = {**values, **{sig.name: sig.fn(c, front) for sig in SIGNALS.values() if sig.front}}
        return front, rerank.features(c, values, hand, front)

    def _finish(self, features, cand, score, k, confidence, found, evidence=None) -> Ranked:
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
        return Ranked(rows, bool(found), confidence, evidence)


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
