"""Retrieval: the Retriever, hybrid search (dense + BM25) over sentences, and its results."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from . import index as index_store
from .embedding import Embedder
from .errors import DocumentError, QueryError
from .fusion import Fusion, Snapshot
from .loading import Document, load_directory, read_document
from .sentences import Sentence, Span, split_document

log = logging.getLogger(__name__)

MODES = ("hybrid", "dense", "bm25")
MAX_QUESTION_CHARS = 2000
# Terminal escape sequences (colours, cursor moves) pasted along with a question are control
# data, not words: drop them whole, not just their ESC byte.
_TERMINAL_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|[@-Z\\-_])")


@dataclass(frozen=True)
class Source:
    """One place a sentence appears: the document and the character span in it."""

    doc: str
    title: str
    source: str | None
    date: str | None
    start: int
    end: int


@dataclass(frozen=True)
class Hit:
    """A retrieved sentence with its score, rank (from 1) and surrounding context.

    ``context`` is the verbatim text of the neighbouring sentences of the same paragraph
    around the hit, starting at ``context_start`` in the document; the hit itself lies at
    ``sentence.start - context_start`` in it. ``sources`` lists every document holding the
    same sentence (the first is ``sentence.doc``).
    """

    sentence: Sentence
    score: float
    rank: int
    context: str
    context_start: int
    sources: tuple[Source, ...]

    @property
    def text(self) -> str:
        return self.sentence.text

    @property
    def context_before(self) -> str:
        return self.context[: self.sentence.start - self.context_start]

    @property
    def context_after(self) -> str:
        return self.context[self.sentence.end - self.context_start:]


@dataclass(frozen=True)
class SearchResult:
    """The answer to one search: ranked hits, and whether the corpus likely answers at all."""

    question: str
    hits: tuple[Hit, ...]
    found: bool
    confidence: float
    mode: str
    truncated: bool = False


@dataclass(frozen=True)
class UpdateReport:
    """What an update changed: document paths added, replaced, removed, left alone, and skipped files."""

    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()
    embedded_sentences: int = 0  # sentences encoded by the model (known and repeated ones are reused)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


def default_index_dir(docs_dir: str | Path, root: str | Path = "embeddings") -> Path:
    """Where the index of a documents folder lives by default: ``embeddings/NAME-HASH``."""
    resolved = Path(docs_dir).resolve()
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:12]
    return Path(root) / f"{resolved.name or 'docs'}-{digest}"


def clean_question(question: str) -> tuple[str, bool]:
    """Drop control and bidirectional-format characters, collapse spaces, cut to the limit."""
    if not isinstance(question, str):
        raise QueryError("the question must be text")
    question = _TERMINAL_ESCAPE.sub("", question)
    kept = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c
                   for c in question if unicodedata.category(c) != "Cf")
    text = " ".join(kept.split())
    if not text:
        raise QueryError("the question is empty; type a question about the documents")
    truncated = len(text) > MAX_QUESTION_CHARS
    return text[:MAX_QUESTION_CHARS], truncated


class Retriever:
    """Hybrid sentence retriever over a folder of articles, with a persisted FAISS index.

    Construction is cheap; the model loads on first use. Every public method is safe to call
    from several threads: searches run against an immutable snapshot, updates build the next
    snapshot and swap it in.

    >>> r = Retriever.from_directory("seeds")
    >>> result = r.search("Who is the president of Ecuador?", k=3)
    >>> result.found, result.hits[0].sentence.doc
    (True, '000_efff323ac530a1c5.txt')
    """

    def __init__(self, index_dir: str | Path | None = None, model: str | None = None,
                 embedder: Embedder | None = None, fusion: Fusion | None = None):
        self.index_dir = Path(index_dir) if index_dir is not None else None
        self.embedder = embedder or Embedder(model)
        self.fusion = fusion or Fusion()
        self._snapshot = Snapshot.empty(self.embedder.model_id)
        self._write_lock = threading.RLock()
        self.last_update: UpdateReport | None = None

    # -- lifecycle ----------------------------------------------------------------------

    @classmethod
    def from_directory(cls, docs_dir: str | Path, index_dir: str | Path | None = None, model: str | None = None,
                       progress: bool = False, rebuild: bool = False, **kwargs) -> "Retriever":
        """Open (or build) the index of ``docs_dir`` and bring it up to date with the folder.

        Only new and changed files are embedded; ``rebuild=True`` ignores the stored index.
        What the update did is in ``retriever.last_update``.
        """
        retriever = cls(index_dir if index_dir is not None else default_index_dir(docs_dir), model=model, **kwargs)
        if index_store.exists(retriever.index_dir) and not rebuild:
            retriever.load()
        retriever.last_update = retriever.sync(docs_dir, progress=progress, save=True, force_save=rebuild)
        return retriever

    def load(self) -> "Retriever":
        """Load the persisted index from ``index_dir`` (checksums verified)."""
        if self.index_dir is None:
            raise index_store.IndexStoreError("this Retriever has no index_dir to load from")
        store = index_store.load(self.index_dir, model=self.embedder.model_id)
        with self._write_lock:
            self._snapshot = Snapshot(store)
        return self

    def save(self) -> "Retriever":
        """Persist the index to ``index_dir`` as a new generation (atomic)."""
        if self.index_dir is None:
            raise index_store.IndexStoreError("this Retriever has no index_dir; pass index_dir= to save it")
        with self._write_lock:
            store = index_store.save(self._snapshot.store, self.index_dir)
            self._snapshot = Snapshot(store, self._snapshot)
        return self

    @property
    def documents(self) -> tuple[Document, ...]:
        return self._snapshot.store.documents

    def __len__(self) -> int:
        return len(self._snapshot.store)

    def document(self, path: str) -> Document:
        """The indexed document called ``path``; raises ``DocumentError`` if there is none."""
        for doc in self._snapshot.store.documents:
            if doc.path == path:
                return doc
        raise DocumentError(f"{path}: no such document in the index")

    def sentence_count(self, path: str) -> int:
        store = self._snapshot.store
        row = store.paths.get(path)
        return 0 if row is None else int(np.sum(store.spans[:, 0] == row))

    # -- updates ------------------------------------------------------------------------

    def sync(self, docs_dir: str | Path, progress: bool = False, save: bool = True, force_save: bool = False) -> UpdateReport:
        """Make the index mirror ``docs_dir``: embed new and changed files, drop removed ones."""
        report = load_directory(docs_dir)
        with self._write_lock:
            present = {d.path for d in report.documents}
            gone = {d.path for d in self.documents if d.path not in present}
            result = self._apply(list(report.documents), gone, progress)
            result = dataclasses.replace(result, skipped=tuple((s.path, s.reason) for s in report.skipped))
            if save and self.index_dir is not None and (result.changed or force_save or not index_store.exists(self.index_dir)):
                self.save()
        return result

    def add(self, items: Iterable[str | Path | Document], progress: bool = False, save: bool = True) -> UpdateReport:
        """Add files (by path) or ``Document`` objects; a changed document replaces the old one.

        Paths are named by their file name; pass Documents to choose the name.
        """
        docs = [item if isinstance(item, Document) else read_document(item) for item in items]
        with self._write_lock:
            report = self._apply(docs, set(), progress)
            if save and report.changed and self.index_dir is not None:
                self.save()
        return report

    def remove(self, doc: str, save: bool = True) -> UpdateReport:
        """Remove the document called ``doc`` from the index."""
        with self._write_lock:
            if doc not in self._snapshot.store.paths:
                raise DocumentError(f"{doc}: no such document in the index")
            report = self._apply([], {doc}, False)
            if save and self.index_dir is not None:
                self.save()
        return report

    def _apply(self, docs: list[Document], remove: set[str], progress: bool) -> UpdateReport:
        store = self._snapshot.store
        if store.dimension == 0:
            store = index_store.Store(self.embedder.model_id, self.embedder.dimension)
        known = {d.path: d.sha256 for d in store.documents}
        added, updated, unchanged, fresh = [], [], [], []
        for doc in docs:
            if known.get(doc.path) == doc.sha256:
                unchanged.append(doc.path)
                continue
            (updated if doc.path in known else added).append(doc.path)
            fresh.append(doc)
        if not fresh and not remove:
            return UpdateReport(unchanged=tuple(unchanged))
        spans = [split_document(d) for d in fresh]
        vectors, encoded = self._embed_spans(fresh, spans, progress)
        new_store = store.changed(add=list(zip(fresh, spans, vectors)), remove=set(remove))
        self._snapshot = Snapshot(new_store)
        return UpdateReport(tuple(added), tuple(updated), tuple(sorted(remove)), tuple(unchanged),
                            embedded_sentences=encoded)

    def _embed_spans(self, docs: list[Document], spans: list[list[Span]], progress: bool) -> tuple[list[np.ndarray], int]:
        """Vectors for each document's spans, and how many sentences had to be encoded."""
        texts = [d.text[s.start:s.end] for d, ss in zip(docs, spans) for s in ss]
        store = self._snapshot.store
        dim = self.embedder.dimension if texts else store.dimension
        flat = np.zeros((len(texts), dim), dtype=np.float32)
        # Identical sentences (duplicate articles, repeated boilerplate) are embedded once:
        # those already indexed reuse their stored vector, found by a lookup that costs
        # O(new sentences) once built (not a text->vector map over the whole index).
        rows = store.rows_of(texts) if store.dimension == dim else np.full(len(texts), -1)
        known = rows >= 0
        if known.any():
            flat[known] = store.vectors[rows[known]]
        missing = np.flatnonzero(~known)
        todo = sorted({texts[i] for i in missing})
        if todo:
            log.info("embedding %d sentences", len(todo))
            encoded = self.embedder.encode(todo, progress=progress)
            where = {t: i for i, t in enumerate(todo)}
            flat[missing] = encoded[[where[texts[i]] for i in missing]]
        out, pos = [], 0
        for ss in spans:
            out.append(flat[pos:pos + len(ss)])
            pos += len(ss)
        return out, len(todo)

    # -- search -------------------------------------------------------------------------

    def search(self, question: str, k: int = 5, mode: str = "hybrid") -> SearchResult:
        """The ``k`` sentences that best answer ``question``, and whether the corpus answers it.

        ``mode`` is ``hybrid`` (dense + BM25, the default), ``dense`` or ``bm25``.

        >>> r = Retriever.from_directory("seeds")
        >>> r.search("When did formal diplomatic relations begin?", k=1).hits[0].text
        'Formal diplomatic relations began in 1949.'
        """
        return self.search_batch([question], k=k, mode=mode)[0]

    def search_batch(self, questions: list[str], k: int = 5, mode: str = "hybrid") -> list[SearchResult]:
        """``search`` for many questions at once (the questions are embedded in one batch)."""
        if mode not in MODES:
            raise QueryError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
        if not isinstance(k, int) or k < 1:
            raise QueryError(f"k must be a positive whole number, not {k!r}")
        cleaned = [clean_question(q) for q in questions]
        snapshot = self._snapshot  # one generation for the whole batch
        texts = [q for q, _ in cleaned]
        if len(snapshot.store) == 0:
            return [SearchResult(q, (), False, 0.0, mode, t) for q, t in cleaned]
        qvecs = self.embedder.encode(texts) if mode != "bm25" else None
        results = []
        for i, (q, truncated) in enumerate(cleaned):
            ranked = self.fusion.rank(snapshot, q, None if qvecs is None else qvecs[i], k, mode)
            hits = tuple(snapshot.hit(row, score, rank + 1, dups) for rank, (row, score, dups) in enumerate(ranked.rows))
            results.append(SearchResult(q, hits, ranked.found, ranked.confidence, mode, truncated))
        return results
