"""Index: sentence vectors searchable by inner product, with the documents and sentence spans.

Only this module and ``qa.storage`` (which writes and reads a Store on disk) know FAISS. A
``Store`` is immutable: adding or removing documents returns a new Store, so a reader
holding one always sees one consistent generation while a writer prepares the next.
``save``, ``load`` and ``exists`` live in ``qa.storage`` and are re-exported here.

Above ``EXACT_SEARCH_LIMIT`` sentences a Store loaded from disk holds its float16 vectors as
a read-only memory map of the stored file (see ``qa.storage``): search reads only the rows
it rescores, so the vectors need not be resident.
"""

from __future__ import annotations

import copy
import hashlib
import io
import re
import threading
from dataclasses import dataclass, field

import numpy as np

from .errors import IndexStoreError, ModelMismatchError
from .loading import Document
from .sentences import Span

# Up to this many sentences search is exact: one matrix-vector product over float32 vectors
# (a 50k scan reads 77 MB, a few ms on one core). Above it an IVF index with 4-bit codes
# picks candidates and the stored vectors, kept as float16 to halve memory, rescore them
# exactly; recall@10 against exact search is measured in bench/RESULTS.md ("Speed and scale").
EXACT_SEARCH_LIMIT = 50_000
# IVF parameters: ~sqrt(n) lists, trained on at most 64 points a list (k-means cost grows
# with both), NPROBE lists scanned per query, RESCORE candidates rescored per result wanted.
IVF_POINTS_PER_LIST = 64
IVF_NPROBE = 48
IVF_RESCORE = 4


# What a Store caches about its documents and spans, kept when only its generation changes.
_CARRIED = ("_doc_rows_cache", "_text_keys_cache")


@dataclass(frozen=True)
class Store:
    """Documents, their sentence spans and unit vectors, searchable by inner product."""

    model: str
    dimension: int
    documents: tuple[Document, ...] = ()
    spans: np.ndarray = field(default_factory=lambda: np.zeros((0, 5), dtype=np.int32))
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    generation: int = 0
    _faiss: object = field(default=None, repr=False, compare=False)
    # Building an IVF index takes a minute at 1M sentences: two threads searching a fresh
    # Store at once must not both build one, and a save building the next Store's index must
    # not hold up searches on this one, hence a lock per Store.
    _build_lock: object = field(default_factory=threading.Lock, repr=False, compare=False)

    def __post_init__(self):
        if self.vectors.shape[0] == 0 and self.vectors.shape[1] != self.dimension:
            object.__setattr__(self, "vectors", np.zeros((0, self.dimension), dtype=np.float32))
        # Memory layout: float32 for exact search (BLAS wants it); float16 above the limit,
        # where the IVF index holds its own 4-bit codes and these only rescore candidates.
        dtype = vector_dtype(len(self.vectors))
        if self.vectors.dtype != dtype or not self.vectors.flags.c_contiguous:
            object.__setattr__(self, "vectors", np.ascontiguousarray(self.vectors, dtype=dtype))
        if len(self.spans) != len(self.vectors):
            raise IndexStoreError(f"index is inconsistent: {len(self.spans)} sentences but {len(self.vectors)} vectors; rebuild it")

    def __len__(self) -> int:
        return len(self.spans)

    @property
    def paths(self) -> dict[str, int]:
        return {d.path: i for i, d in enumerate(self.documents)}

    def doc_rows(self) -> np.ndarray:
        """First sentence row of each document, plus the total at the end (len = docs + 1)."""
        # Cached: every hit asks for it, and at 100k sentences it costs a millisecond each time.
        cached = self.__dict__.get("_doc_rows_cache")
        if cached is None:
            counts = np.bincount(self.spans[:, 0], minlength=len(self.documents)) if len(self.spans) else np.zeros(len(self.documents), dtype=np.int64)
            cached = np.concatenate([[0], np.cumsum(counts)])
            cached.flags.writeable = False
            object.__setattr__(self, "_doc_rows_cache", cached)
        return cached

    def renumbered(self, generation: int, vectors: np.ndarray | None = None, index=None) -> "Store":
        """This Store as generation ``generation``, with its vectors (equal values) held in
        ``vectors`` and its search structure ``index`` when given; what it cached is kept."""
        vectors = self.vectors if vectors is None else vectors
        if index is None and self._faiss is not None:
            index = self._faiss.rebind(vectors)
        new = Store(self.model, self.dimension, self.documents, self.spans, vectors, generation, index)
        for name in _CARRIED:
            if name in self.__dict__:
                object.__setattr__(new, name, self.__dict__[name])
        return new

    def sentence_text(self, row: int) -> str:
        doc, start, end = (int(x) for x in self.spans[row, :3])
        return self.documents[doc].text[start:end]

    def texts(self) -> list[str]:
        """Every sentence's text, in row order."""
        docs = self.documents
        return [docs[d].text[s:e] for d, s, e in self.spans[:, :3].tolist()]

    def rows_of(self, texts: list[str]) -> np.ndarray:
        """For each text, a row whose sentence is exactly that text, or -1 if none is.

        Looks texts up by a 64-bit hash of each sentence, sorted once per Store (16 bytes a
        sentence, built on the first call) and carried over by ``changed``, which hashes only
        the sentences it adds; every match is confirmed on the text itself.
        """
        out = np.full(len(texts), -1, dtype=np.int64)
        if not len(self) or not texts:
            return out
        _, order, sorted_keys = self._text_keys()
        want = hash_texts(texts)
        for i, pos in enumerate(np.searchsorted(sorted_keys, want).tolist()):
            while pos < len(order) and sorted_keys[pos] == want[i]:
                if self.sentence_text(int(order[pos])) == texts[i]:
                    out[i] = order[pos]
                    break
                pos += 1
        return out

    def _text_keys(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each row's text hash, the rows in hash order, and the hashes in that order."""
        cached = self.__dict__.get("_text_keys_cache")
        if cached is None:
            cached = _sorted_keys(hash_texts(self.texts()))
            object.__setattr__(self, "_text_keys_cache", cached)
        return cached

    def changed(self, add: list[tuple[Document, list[Span], np.ndarray]] = (), remove: set[str] = frozenset()) -> "Store":
        """A new Store with the documents in ``remove`` dropped and those in ``add`` added or replaced."""
        replace = remove | {doc.path for doc, _, _ in add}
        keep = [i for i, d in enumerate(self.documents) if d.path not in replace]
        rows = self.doc_rows()
        total = sum(int(rows[i + 1] - rows[i]) for i in keep) + sum(len(spans) for _, spans, _ in add)
        docs, span_parts, vector_parts = [], [], []
        for new_row, old_row in enumerate(keep):
            docs.append(self.documents[old_row])
            part = self.spans[rows[old_row]:rows[old_row + 1]].copy()
            part[:, 0] = new_row
            span_parts.append(part)
            vector_parts.append(self.vectors[rows[old_row]:rows[old_row + 1]])
        for doc, spans, vectors in add:
            if len(spans) != len(vectors):
                raise IndexStoreError(f"{doc.path}: {len(spans)} sentences but {len(vectors)} vectors")
            if len(vectors) and vectors.shape[1] != self.dimension:
                raise ModelMismatchError(f"vectors of dimension {vectors.shape[1]} cannot join an index of dimension {self.dimension}")
            row = len(docs)
            docs.append(doc)
            span_parts.append(np.array([(row, s.start, s.end, s.paragraph, int(s.heading)) for s in spans], dtype=np.int32).reshape(-1, 5))
            vector_parts.append(np.asarray(vectors).reshape(-1, self.dimension))
        spans = np.concatenate(span_parts) if span_parts else np.zeros((0, 5), dtype=np.int32)
        # Straight into the new Store's layout: a float32 detour would cost 1.5 GB at 1M sentences.
        dtype = vector_dtype(total)
        vectors = np.concatenate(vector_parts, dtype=dtype) if vector_parts else np.zeros((0, self.dimension), dtype)
        new = Store(self.model, self.dimension, tuple(docs), spans, vectors, self.generation)
        cached = self.__dict__.get("_text_keys_cache")
        if cached is not None:  # keep the text lookup, hashing only the added sentences
            key_parts = [cached[0][rows[old_row]:rows[old_row + 1]] for old_row in keep]
            key_parts += [hash_texts(doc.text[s.start:s.end] for s in spans) for doc, spans, _ in add]
            keys = np.concatenate(key_parts) if key_parts else np.zeros(0, dtype=np.uint64)
            object.__setattr__(new, "_text_keys_cache", _sorted_keys(keys))
        return new

    # -- search -----------------------------------------------------------------------

    def _index(self):
        if self._faiss is None:
            with self._build_lock:
                if self._faiss is None:
                    object.__setattr__(self, "_faiss", build_faiss(self.vectors))
        return self._faiss

    @property
    def approximate(self) -> bool:
        """Whether search goes through the approximate (IVF) index rather than an exact scan."""
        return len(self) > EXACT_SEARCH_LIMIT

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` rows by inner product for each query: (scores, rows), rows -1 past the end."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dimension)
        if len(self) == 0 or k <= 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        return self._index().search(queries, min(k, len(self)))

    def warm(self) -> None:
        """Build the in-memory FAISS structure now rather than on the first search."""
        self._index()


def _sorted_keys(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.argsort(keys, kind="stable")
    return keys, order, keys[order]


def hash_texts(texts) -> np.ndarray:
    """A 64-bit hash of each text (blake2b: stable across processes, unlike ``hash``)."""
    return np.fromiter((int.from_bytes(hashlib.blake2b(t.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")
                        for t in texts), dtype=np.uint64)


def vector_dtype(n: int) -> type:
    """How a Store of ``n`` sentences keeps its vectors in memory (and on disk)."""
    return np.float32 if n <= EXACT_SEARCH_LIMIT else np.float16


class ExactIndex:
    """Exact inner-product search: one matrix-vector product per query, no copy of the vectors."""

    def __init__(self, vectors: np.ndarray):
        self.vectors = vectors

    def rebind(self, vectors: np.ndarray) -> "ExactIndex":
        return ExactIndex(vectors)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        scores = queries @ self.vectors.T
        return _top_k(scores, np.broadcast_to(np.arange(scores.shape[1]), scores.shape), k)


class ApproximateIndex:
    """FAISS IVF with 4-bit scalar-quantized codes; candidates rescored with the exact vectors.

    The IVF scan over 4-bit codes ranks well but not exactly; taking ``IVF_RESCORE`` times
    more candidates than asked and rescoring them with the stored vectors gives the exact
    order among everything the probed lists hold. 4-bit codes (192 bytes a sentence) find
    the same top 10 as 8-bit ones (384 bytes) at 60k, 100k and 1M sentences. Smaller codes
    were measured and not taken (bench/RESULTS.md, "Speed and scale"): product quantization
    either lost recall or took 20-130 s to train where these take 1-10 s (and every save of
    a changed index trains anew); 2-bit RaBitQ matched on sentence vectors but fell to
    recall@10 0.95-0.97 on the clustered vectors of tests/test_scale.py.
    """

    def __init__(self, vectors: np.ndarray, nprobe: int | None = None, seed: int = 1234):
        import faiss

        n, d = vectors.shape
        self.vectors = vectors
        nlist = max(1, min(int(round(np.sqrt(n))), n // 39 or 1))  # faiss wants >= 39 points a list
        coarse = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFScalarQuantizer(coarse, d, nlist, faiss.ScalarQuantizer.QT_4bit, faiss.METRIC_INNER_PRODUCT)
        index.cp.max_points_per_centroid = IVF_POINTS_PER_LIST
        index.cp.niter = 10
        index.cp.seed = seed
        rng = np.random.default_rng(seed)
        sample = vectors[np.sort(rng.choice(n, size=min(n, nlist * IVF_POINTS_PER_LIST), replace=False))]
        index.train(np.ascontiguousarray(sample, dtype=np.float32))
        for lo in range(0, n, 65536):  # float32 copies a chunk at a time, not all at once
            index.add(np.ascontiguousarray(vectors[lo:lo + 65536], dtype=np.float32))
        index.nprobe = min(nlist, nprobe or IVF_NPROBE)
        self._coarse = coarse  # the IVF index points into it: keep it alive
        self.index = index
        self.nlist = nlist

    def rebind(self, vectors: np.ndarray) -> "ApproximateIndex":
        """The same IVF index, rescoring with ``vectors`` (the same values held elsewhere, e.g. mapped)."""
        other = copy.copy(self)
        other.vectors = vectors
        return other

    def write(self, f) -> None:
        """Write the FAISS index (quantizer, codes, ids) to the binary file ``f``."""
        import faiss

        faiss.write_index(self.index, faiss.PyCallbackIOWriter(f.write))

    @classmethod
    def read(cls, data: bytes, vectors: np.ndarray) -> "ApproximateIndex":
        """The index ``write`` wrote as ``data``, rescoring with ``vectors``; ValueError if it does not fit them."""
        import faiss

        try:
            index = faiss.read_index(faiss.PyCallbackIOReader(io.BytesIO(data).read))
        except RuntimeError as err:  # FAISS's messages span lines and start with its C++ source location
            message = re.sub(r"^Error in .* at \S+:\d+: ", "", " ".join(str(err).split()))
            raise ValueError(message[:200]) from None
        n, d = vectors.shape
        if not isinstance(index, faiss.IndexIVF) or index.metric_type != faiss.METRIC_INNER_PRODUCT \
                or index.ntotal != n or index.d != d:
            raise ValueError(f"it holds {type(index).__name__} of {index.ntotal} {index.d}-dimensional vectors, "
                             f"not an inner-product IVF index of {n} {d}-dimensional ones")
        self = cls.__new__(cls)
        index.nprobe = min(index.nlist, IVF_NPROBE)
        self._coarse = None  # read_index gives the IVF index ownership of its quantizer
        self.index, self.vectors, self.nlist = index, vectors, index.nlist
        return self

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        fetch = min(len(self.vectors), k * IVF_RESCORE)
        _, rows = self.index.search(queries, fetch)
        safe = np.where(rows >= 0, rows, 0)
        scores = np.einsum("qkd,qd->qk", self.vectors[safe].astype(np.float32), queries)
        scores[rows < 0] = -np.inf
        return _top_k(scores, rows, k)


def _top_k(scores: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best (score, row) pairs of each query, best first; rows -1 where there are fewer."""
    k_eff = min(k, scores.shape[1])
    part = np.argpartition(-scores, k_eff - 1, axis=1)[:, :k_eff] if k_eff < scores.shape[1] else \
        np.broadcast_to(np.arange(scores.shape[1]), (scores.shape[0], scores.shape[1]))
    top = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-top, axis=1, kind="stable")
    part = np.take_along_axis(part, order, axis=1)
    out_scores = np.take_along_axis(scores, part, axis=1).astype(np.float32)
    out_rows = np.take_along_axis(np.asarray(rows), part, axis=1).astype(np.int64)
    out_rows[~np.isfinite(out_scores)] = -1
    return out_scores, out_rows


def build_faiss(vectors: np.ndarray):
    """The search structure for ``vectors``: exact up to ``EXACT_SEARCH_LIMIT`` rows, IVF above."""
    if len(vectors) > EXACT_SEARCH_LIMIT:
        return ApproximateIndex(vectors)
    return ExactIndex(np.ascontiguousarray(vectors, dtype=np.float32))


# Persistence lives in qa.storage; these names stay importable from qa.index. Imported last:
# qa.storage imports Store from here.
from .storage import FILES, FORMAT_VERSION, MANIFEST, exists, load, save  # noqa: E402

__all__ = ["Store", "ExactIndex", "ApproximateIndex", "build_faiss", "vector_dtype", "EXACT_SEARCH_LIMIT",
           "IndexStoreError", "ModelMismatchError", "FILES", "FORMAT_VERSION", "MANIFEST", "exists", "load", "save"]
