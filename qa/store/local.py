"""The local store: the corpus and its vectors in this process, searched with FAISS.

The default ``SentenceStore``. Vectors are held in row order of the corpus (float32 up to
``faiss_index.EXACT_SEARCH_LIMIT`` sentences, float16 above, where a store loaded from disk maps them
read-only: see ``qa.store.disk``), so an id resolves to its vector through the corpus's row.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..documents.filters import Filter
from ..documents.loading import Document
from ..documents.sentences import Span
from ..errors import IndexStoreError, ModelMismatchError
from . import disk
from .corpus import Corpus
from . import faiss_index


@dataclass(frozen=True)
class LocalStore:
    """A corpus and its unit vectors, searchable by inner product (FAISS, exact or IVF).

    >>> import numpy as np
    >>> from qa.documents.loading import parse_text
    >>> from qa.documents.sentences import split_document
    >>> doc = parse_text("Title\\n\\nOne sentence. Another one.", "a.txt")
    >>> spans = split_document(doc)
    >>> store = LocalStore("model", 2).changed(add=[(doc, spans, np.array([[1, 0], [0, 1]], np.float32))])
    >>> scores, ids = store.search(np.array([[0.0, 1.0]], np.float32), 1)
    >>> store.corpus.sentence_text(int(store.corpus.rows(ids[0])[0]))
    'Another one.'
    """

    model: str
    dimension: int
    corpus: Corpus = field(default_factory=Corpus)
    matrix: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    generation: int = 0
    _faiss: object = field(default=None, repr=False, compare=False)
    # Building an IVF index takes a minute at 1M sentences: two threads searching a fresh
    # store at once must not both build one, and a save building the next store's index must
    # not hold up searches on this one, hence a lock per store.
    _build_lock: object = field(default_factory=threading.Lock, repr=False, compare=False)

    def __post_init__(self):
        if self.matrix.shape[0] == 0 and self.matrix.shape[1] != self.dimension:
            object.__setattr__(self, "matrix", np.zeros((0, self.dimension), dtype=np.float32))
        # Memory layout: float32 for exact search (BLAS wants it); float16 above the limit,
        # where the IVF index holds its own 4-bit codes and these only rescore candidates.
        dtype = faiss_index.vector_dtype(len(self.matrix))
        if self.matrix.dtype != dtype or not self.matrix.flags.c_contiguous:
            object.__setattr__(self, "matrix", np.ascontiguousarray(self.matrix, dtype=dtype))
        if len(self.corpus) != len(self.matrix):
            raise IndexStoreError(f"index is inconsistent: {len(self.corpus)} sentences but {len(self.matrix)} vectors; rebuild it")

    def __len__(self) -> int:
        return len(self.corpus)

    @property
    def approximate(self) -> bool:
        """Whether search goes through the approximate (IVF) index rather than an exact scan."""
        return len(self) > faiss_index.EXACT_SEARCH_LIMIT

    def renumbered(self, generation: int, matrix: np.ndarray | None = None, index=None) -> "LocalStore":
        """This store as generation ``generation``, with its vectors (equal values) held in
        ``matrix`` and its search structure ``index`` when given; what it cached is kept."""
        matrix = self.matrix if matrix is None else matrix
        if index is None and self._faiss is not None:
            index = self._faiss.rebind(matrix)
        return LocalStore(self.model, self.dimension, self.corpus, matrix, generation, index)

    # -- the SentenceStore contract -----------------------------------------------------

    def search(self, queries: np.ndarray, k: int, filter: Filter | None = None) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dimension)
        if len(self) == 0 or k <= 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        mask = self.corpus.admitted(filter)
        scores, rows = self.faiss_index().search(queries, min(k, len(self)), mask)
        ids = np.where(rows >= 0, self.corpus.ids[np.maximum(rows, 0)], -1)
        return scores, ids

    def similarity(self, query: np.ndarray, ids: np.ndarray) -> np.ndarray:
        return self.similarity_rows(query, self.corpus.rows(ids))

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        return np.asarray(self.matrix[self.corpus.rows(ids)], dtype=np.float32)

    def changed(self, add: list[tuple[Document, list[Span], np.ndarray]] = (),
                remove: set[str] = frozenset()) -> "LocalStore":
        for doc, spans, vectors in add:
            if len(spans) != len(vectors):
                raise IndexStoreError(f"{doc.path}: {len(spans)} sentences but {len(vectors)} vectors")
            if len(vectors) and vectors.shape[1] != self.dimension:
                raise ModelMismatchError(f"vectors of dimension {vectors.shape[1]} cannot join an index of dimension {self.dimension}")
        corpus, keep = self.corpus.changed([(doc, spans) for doc, spans, _ in add], remove)
        rows = self.corpus.doc_rows()
        parts = [self.matrix[rows[r]:rows[r + 1]] for r in keep]
        parts += [np.asarray(vectors).reshape(-1, self.dimension) for _, _, vectors in add]
        # Straight into the new store's layout: a float32 detour would cost 1.5 GB at 1M sentences.
        dtype = faiss_index.vector_dtype(len(corpus))
        matrix = np.concatenate(parts, dtype=dtype) if parts else np.zeros((0, self.dimension), dtype)
        return LocalStore(self.model, self.dimension, corpus, matrix, self.generation)

    @property
    def documents(self) -> tuple[Document, ...]:
        return self.corpus.documents

    def document(self, path: str) -> Document | None:
        for doc in self.corpus.documents:
            if doc.path == path:
                return doc
        return None

    def sentence_count(self, path: str) -> int:
        row = self.corpus.paths.get(path)
        return 0 if row is None else int(np.diff(self.corpus.doc_rows())[row])

    def known_vectors(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        rows = self.corpus.rows_of(texts)
        known = rows >= 0
        if not known.any():
            return known, np.zeros((0, self.dimension), np.float32)
        return known, self.vectors(self.corpus.ids[rows[known]])

    def persist(self, location: str | Path | None) -> "LocalStore":
        if location is None:
            raise IndexStoreError("this store has no index folder; pass index_dir= to save it")
        return disk.save(self, location)

    # -- local fast paths (rows are positions in this process) ---------------------------

    def similarity_rows(self, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """``similarity`` by row rather than id, for callers that already hold rows."""
        return np.asarray(self.matrix[rows], dtype=np.float32) @ np.asarray(query, dtype=np.float32)

    def faiss_index(self):
        """The FAISS structure, built on first use (exact below the switch, IVF above)."""
        if self._faiss is None:
            with self._build_lock:
                if self._faiss is None:
                    object.__setattr__(self, "_faiss", faiss_index.build_index(self.matrix))
        return self._faiss


def load(directory: str | Path, model: str | None = None, dimension: int | None = None) -> LocalStore:
    """The store saved under ``directory`` (checksums verified; see ``qa.store.disk``).

    ``model``/``dimension``, when given, must match what the index was built with.
    """
    stored = disk.read(directory, model, dimension)
    # The store converts vectors stored in the other layout (an index saved when the limit
    # was elsewhere) straight to its own: no float32 copy on the way.
    store = LocalStore(stored.model, stored.dimension, stored.corpus, stored.vectors, stored.generation)
    if stored.ivf is not None:
        store = store.renumbered(store.generation, index=stored.ivf(store.matrix))
    return store
