"""The Retriever: a folder of articles kept indexed, and hybrid search (dense + BM25) over it."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import threading
from pathlib import Path
from typing import Iterable

import numpy as np

from .. import store as stores
from ..documents.filters import Filter
from ..documents.loading import Document, load_directory, read_document
from ..documents.sentences import Span, split_document
from ..embedding import Embedder
from ..errors import DocumentError, IndexStoreError, QueryError
from ..ranking.features import Features
from ..ranking.fusion import MODES, Fusion
from ..ranking.query import Query
from .batching import MicroBatcher
from .hits import make_hit
from .remote import features_for, question_features
from .results import SearchResult, UpdateReport

log = logging.getLogger(__name__)


def default_index_dir(docs_dir: str | Path, root: str | Path = "embeddings") -> Path:
    """Where the index of a documents folder lives by default: ``embeddings/NAME-HASH``."""
    resolved = Path(docs_dir).resolve()
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:12]
    return Path(root) / f"{resolved.name or 'docs'}-{digest}"


class Retriever:
    """Hybrid sentence retriever over a folder of articles, with a persisted index.

    Construction is cheap; the model loads on first use. Every public method is safe to call
    from several threads: searches run against one immutable store generation (and the
    ranking features built for it), updates build the next generation and swap it in.

    >>> r = Retriever.from_directory("seeds")
    >>> result = r.search("Who is the president of Ecuador?", k=3)
    >>> result.found, result.hits[0].sentence.doc
    (True, '000_efff323ac530a1c5.txt')
    """

    def __init__(self, index_dir: str | Path | None = None, model: str | None = None,
                 embedder: Embedder | None = None, fusion: Fusion | None = None, store: str | None = None):
        self.index_dir = Path(index_dir) if index_dir is not None else None
        self.embedder = embedder or Embedder(model)
        self.fusion = fusion or Fusion()
        # None/"local": the FAISS store saved in index_dir; "milvus:PATH.db" or "milvus://HOST:PORT": Milvus.
        self.store_spec = store
        # Questions searched at the same moment from several threads are embedded together.
        self._questions = MicroBatcher(lambda texts: self.embedder.encode(texts))
        self._features = Features(stores.LocalStore(self.embedder.model_id, 0))
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
        if stores.is_milvus(retriever.store_spec) or (stores.exists(retriever.index_dir) and not rebuild):
            retriever.load(rebuild=rebuild)
        retriever.last_update = retriever.sync(docs_dir, progress=progress, save=True, force_save=rebuild)
        return retriever

    def load(self, rebuild: bool = False) -> "Retriever":
        """Open the persisted index: ``index_dir`` (checksums verified), or the Milvus store named by ``store``."""
        if self.index_dir is None and not stores.is_milvus(self.store_spec):
            raise IndexStoreError("this Retriever has no index_dir to load from")
        dimension = self.embedder.dimension if stores.is_milvus(self.store_spec) else 0
        store = stores.open_store(self.store_spec, self.index_dir, self.embedder.model_id, dimension, rebuild=rebuild)
        with self._write_lock:
            self._features = features_for(store)
        return self

    def save(self) -> "Retriever":
        """Persist the index to ``index_dir`` as a new generation (atomic)."""
        if self.index_dir is None and not stores.is_milvus(self.store_spec):
            raise IndexStoreError("this Retriever has no index_dir; pass index_dir= to save it")
        with self._write_lock:
            store = self._features.store.persist(self.index_dir)
            self._features = features_for(store, self._features)
        return self

    @property
    def _persistent(self) -> bool:
        return self.index_dir is not None or stores.is_milvus(self.store_spec)

    def _saved(self) -> bool:
        return stores.is_milvus(self.store_spec) or stores.exists(self.index_dir)

    @property
    def documents(self) -> tuple[Document, ...]:
        """The indexed documents, in index order (on a Milvus store: metadata only, ``text`` "")."""
        return self._features.store.documents

    def __len__(self) -> int:
        return len(self._features.store)

    def document(self, path: str) -> Document:
        """The indexed document called ``path``, text included; raises ``DocumentError`` if there is none."""
        doc = self._features.store.document(path)
        if doc is None:
            raise DocumentError(f"{path}: no such document in the index")
        return doc

    def sentence_count(self, path: str) -> int:
        return self._features.store.sentence_count(path)

    # -- updates ------------------------------------------------------------------------

    def sync(self, docs_dir: str | Path, progress: bool = False, save: bool = True, force_save: bool = False) -> UpdateReport:
        """Make the index mirror ``docs_dir``: embed new and changed files, drop removed ones."""
        report = load_directory(docs_dir)
        with self._write_lock:
            present = {d.path for d in report.documents}
            gone = {d.path for d in self.documents if d.path not in present}
            result = self._apply(list(report.documents), gone, progress)
            result = dataclasses.replace(result, skipped=tuple((s.path, s.reason) for s in report.skipped))
            if save and self._persistent and (result.changed or force_save or not self._saved()):
                self.save()
        return result

    def add(self, items: Iterable[str | Path | Document], progress: bool = False, save: bool = True) -> UpdateReport:
        """Add files (by path) or ``Document`` objects; a changed document replaces the old one.

        Paths are named by their file name; pass Documents to choose the name.
        """
        docs = [item if isinstance(item, Document) else read_document(item) for item in items]
        with self._write_lock:
            report = self._apply(docs, set(), progress)
            if save and report.changed and self._persistent:
                self.save()
        return report

    def remove(self, doc: str, save: bool = True) -> UpdateReport:
        """Remove the document called ``doc`` from the index."""
        with self._write_lock:
            if doc not in {d.path for d in self.documents}:
                raise DocumentError(f"{doc}: no such document in the index")
            report = self._apply([], {doc}, False)
            if save and self._persistent:
                self.save()
        return report

    def _apply(self, docs: list[Document], remove: set[str], progress: bool) -> UpdateReport:
        store = self._features.store
        if store.dimension == 0:
            store = stores.open_store(self.store_spec, None, self.embedder.model_id, self.embedder.dimension)
        # A document counts as unchanged only if its metadata read the same too: a loader that
        # learns to read a title or a date updates old indexes (its sentences' vectors are reused).
        known = {d.path: _identity(d) for d in store.documents}
        added, updated, unchanged, fresh = [], [], [], []
        for doc in docs:
            if known.get(doc.path) == _identity(doc):
                unchanged.append(doc.path)
                continue
            (updated if doc.path in known else added).append(doc.path)
            fresh.append(doc)
        if not fresh and not remove:
            return UpdateReport(unchanged=tuple(unchanged))
        spans = [split_document(d) for d in fresh]
        vectors, encoded = self._embed_spans(fresh, spans, progress)
        new_store = store.changed(add=list(zip(fresh, spans, vectors)), remove=set(remove))
        self._features = features_for(new_store)
        return UpdateReport(tuple(added), tuple(updated), tuple(sorted(remove)), tuple(unchanged),
                            embedded_sentences=encoded)

    def _embed_spans(self, docs: list[Document], spans: list[list[Span]], progress: bool) -> tuple[list[np.ndarray], int]:
        """Vectors for each document's spans, and how many sentences had to be encoded."""
        texts = [d.text[s.start:s.end] for d, ss in zip(docs, spans) for s in ss]
        store = self._features.store
        dim = self.embedder.dimension if texts else store.dimension
        flat = np.zeros((len(texts), dim), dtype=np.float32)
        # Identical sentences (duplicate articles, repeated boilerplate) are embedded once:
        # those already indexed reuse their stored vector, found by a lookup that costs
        # O(new sentences) once built (not a text->vector map over the whole index).
        if store.dimension == dim and texts:
            known, vectors = store.known_vectors(texts)
            flat[known] = vectors
        else:
            known = np.zeros(len(texts), dtype=bool)
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

    def search(self, question: str, k: int = 5, mode: str = "hybrid", filter: Filter | None = None) -> SearchResult:
        """The ``k`` sentences that best answer ``question``, and whether the corpus answers it.

        ``mode`` is ``hybrid`` (dense + BM25, the default), ``dense`` or ``bm25``. ``filter``
        (a ``Filter`` of dates and sources) restricts the documents searched; it applies
        before ranking, so ``k`` hits come back whenever ``k`` admitted sentences exist.

        >>> r = Retriever.from_directory("seeds")
        >>> r.search("When did formal diplomatic relations begin?", k=1).hits[0].text
        'Formal diplomatic relations began in 1949.'
        """
        return self.search_batch([question], k=k, mode=mode, filter=filter)[0]

    def search_batch(self, questions: list[str], k: int = 5, mode: str = "hybrid",
                     filter: Filter | None = None) -> list[SearchResult]:
        """``search`` for many questions at once (the questions are embedded in one batch)."""
        if mode not in MODES:
            raise QueryError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
        if not isinstance(k, int) or k < 1:
            raise QueryError(f"k must be a positive whole number, not {k!r}")
        if filter is not None and not isinstance(filter, Filter):
            raise QueryError(f"filter must be a qa.Filter, not {type(filter).__name__}")
        queries = [Query.parse(q, filter) for q in questions]
        features = self._features  # one generation for the whole batch
        if len(features.store) == 0:
            return [SearchResult(q.text, (), False, 0.0, mode, q.truncated, q.filter) for q in queries]
        qvecs = self._questions.encode([q.text for q in queries]) if mode != "bm25" else None
        window = self.fusion.settings.context_window
        results = []
        for i, query in enumerate(queries):
            qvec = None if qvecs is None else qvecs[i]
            # A remote store (Milvus) gives each question the few rows it is ranked on.
            view = question_features(features, query, qvec, k, mode, self.fusion.settings,
                                     self.fusion.reads_articles)
            ranked = self.fusion.rank(view, query, qvec, k, mode)
            hits = tuple(make_hit(view, row, score, rank + 1, dups, window, query.text)
                         for rank, (row, score, dups) in enumerate(ranked.rows))
            results.append(SearchResult(query.text, hits, ranked.found, ranked.confidence, mode, query.truncated, query.filter))
        return results


def _identity(doc: Document) -> tuple:
    return doc.sha256, doc.title, doc.date, doc.source, doc.body_start, doc.kind
