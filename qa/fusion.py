"""Fusion: rank sentences by dense and BM25 evidence, and decide whether the corpus answers.

A ``Snapshot`` is one immutable generation of the index with the structures search needs
(BM25, paragraph groups, duplicate groups), built lazily. ``Fusion`` holds the ranking
recipe; its defaults are the measured best (bench/RESULTS.md, "Retrieval quality").
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from .index import Store
from .lexical import Lexical
from .sentences import Sentence


class Snapshot:
    """An immutable index generation plus lazily built search structures."""

    def __init__(self, store: Store, previous: "Snapshot | None" = None):
        self.store = store
        self._lock = threading.Lock()
        # A save only renumbers the generation: reuse what the previous snapshot built.
        same = previous is not None and previous.store.spans is store.spans
        self._lexical = previous._lexical if same else None
        self._groups = previous._groups if same else None
        self._paragraphs = previous._paragraphs if same else None

    @classmethod
    def empty(cls, model: str, dimension: int = 0) -> "Snapshot":
        return cls(Store(model, dimension))

    def text(self, row: int) -> str:
        doc_row, start, end = self.store.spans[row, :3]
        return self.store.documents[doc_row].text[start:end]

    def texts(self) -> list[str]:
        docs, spans = self.store.documents, self.store.spans
        return [docs[d].text[s:e] for d, s, e in spans[:, :3].tolist()]

    @property
    def lexical(self) -> Lexical:
        if self._lexical is None:
            with self._lock:
                if self._lexical is None:
                    self._lexical = Lexical(self.texts())
        return self._lexical

    @property
    def paragraphs(self) -> tuple[np.ndarray, np.ndarray]:
        """For each row, the first and one-past-last row of its paragraph."""
        if self._paragraphs is None:
            spans = self.store.spans
            n = len(spans)
            key_change = np.ones(n, dtype=bool)
            if n > 1:
                key_change[1:] = (spans[1:, 0] != spans[:-1, 0]) | (spans[1:, 3] != spans[:-1, 3])
            starts_idx = np.flatnonzero(key_change)
            group = np.cumsum(key_change) - 1
            ends_idx = np.append(starts_idx[1:], n)
            self._paragraphs = (starts_idx[group], ends_idx[group])
        return self._paragraphs

    @property
    def groups(self) -> dict[int, tuple[int, ...]]:
        """Rows whose sentence text also appears elsewhere, mapped to all rows holding it."""
        if self._groups is None:
            with self._lock:
                if self._groups is None:
                    by_text: dict[str, list[int]] = {}
                    for row, text in enumerate(self.texts()):
                        by_text.setdefault(" ".join(text.split()).casefold(), []).append(row)
                    self._groups = {r: tuple(rows) for rows in by_text.values() if len(rows) > 1 for r in rows}
        return self._groups

    def vectors_by_text(self) -> dict[str, np.ndarray]:
        return dict(zip(self.texts(), self.store.vectors))

    def sentence(self, row: int) -> Sentence:
        doc_row, start, end, paragraph, heading = (int(x) for x in self.store.spans[row])
        doc = self.store.documents[doc_row]
        rows = self.store.doc_rows()
        return Sentence(doc=doc.path, title=doc.title, source=doc.source, date=doc.date,
                        number=row - int(rows[doc_row]) + 1, total=int(rows[doc_row + 1] - rows[doc_row]),
                        paragraph=paragraph, start=start, end=end, text=doc.text[start:end], heading=bool(heading))

    def hit(self, row: int, score: float, rank: int, duplicates: tuple[int, ...]):
        from .retrieval import Hit, Source

        sentence = self.sentence(row)
        p_start, p_end = (int(a[row]) for a in self.paragraphs)
        lo, hi = max(p_start, row - 1), min(p_end, row + 2)
        doc = self.store.documents[int(self.store.spans[row, 0])]
        c_start, c_end = int(self.store.spans[lo, 1]), int(self.store.spans[hi - 1, 2])
        sources = []
        for r in (row, *[d for d in duplicates if d != row]):
            s = self.sentence(r) if r != row else sentence
            sources.append(Source(s.doc, s.title, s.source, s.date, s.start, s.end))
        return Hit(sentence=sentence, score=float(score), rank=rank, context=doc.text[c_start:c_end],
                   context_start=c_start, sources=tuple(sources))


@dataclass(frozen=True)
class Ranked:
    rows: list[tuple[int, float, tuple[int, ...]]]
    found: bool
    confidence: float


def _minmax(x: np.ndarray) -> np.ndarray:
    lo, hi = float(x.min()), float(x.max())
    return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)


@dataclass(frozen=True)
class Fusion:
    """How hybrid search ranks candidates and decides ``found``.

    Candidates are the top ``depth`` sentences of each retriever. Each signal is min-max
    normalized over the candidates, then blended: the sentence's own dense and BM25 scores,
    plus the same two signals for its paragraph, which carries the context a question often
    refers to. ``found`` compares the best sentence's cosine with ``threshold``.
    """

    dense: float = 0.7
    bm25: float = 0.3
    paragraph_dense: float = 0.0
    paragraph_bm25: float = 0.0
    depth: int = 100
    threshold: float = 0.35

    def rank(self, snapshot: Snapshot, question: str, qvec: np.ndarray | None, k: int, mode: str) -> Ranked:
        store = snapshot.store
        depth = max(self.depth, 4 * k)
        if mode == "bm25":
            bm = snapshot.lexical.scores(question)
            cand = _top(bm, depth)
            score = bm[cand]
            confidence = float(score.max()) if len(score) else 0.0
            return self._finish(snapshot, cand, score, k, confidence, confidence > 0)
        _, dense_rows = store.search(qvec[None, :], depth)
        dense_rows = dense_rows[0][dense_rows[0] >= 0]
        if mode == "dense":
            cand = dense_rows
            score = store.vectors[cand] @ qvec
        else:
            bm = snapshot.lexical.scores(question)
            cand = np.union1d(dense_rows, _top(bm, depth))
            dense = store.vectors[cand] @ qvec
            score = self.dense * _minmax(dense) + self.bm25 * _minmax(bm[cand])
            if self.paragraph_dense or self.paragraph_bm25:
                p_dense, p_bm = _paragraph_scores(snapshot, cand, qvec, bm)
                score = score + self.paragraph_dense * _minmax(p_dense) + self.paragraph_bm25 * _minmax(p_bm)
        cosine = store.vectors[cand] @ qvec
        order = np.argsort(-score, kind="stable")
        confidence = float(cosine[order[0]]) if len(order) else 0.0
        return self._finish(snapshot, cand, score, k, confidence, confidence >= self.threshold)

    def _finish(self, snapshot, cand, score, k, confidence, found) -> Ranked:
        order = np.argsort(-score, kind="stable")
        groups = snapshot.groups
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


def _top(scores: np.ndarray, depth: int) -> np.ndarray:
    if len(scores) <= depth:
        return np.flatnonzero(scores > 0) if scores.any() else np.arange(len(scores))
    top = np.argpartition(-scores, depth)[:depth]
    return top[scores[top] > 0]


def _paragraph_scores(snapshot: Snapshot, cand: np.ndarray, qvec: np.ndarray, bm: np.ndarray):
    starts, ends = snapshot.paragraphs
    vectors = snapshot.store.vectors
    p_dense = np.empty(len(cand), dtype=np.float32)
    p_bm = np.empty(len(cand), dtype=np.float32)
    for i, row in enumerate(cand):
        s, e = starts[row], ends[row]
        p_dense[i] = float((vectors[s:e] @ qvec).mean())
        p_bm[i] = float(bm[s:e].sum())
    return p_dense, p_bm
