"""Index: sentence vectors in FAISS, plus the documents and sentence spans, persisted on disk.

Only this module knows FAISS and the on-disk layout. A ``Store`` is immutable: adding or
removing documents returns a new Store, so a reader holding one always sees one consistent
generation while a writer prepares the next.

On disk (no pickle anywhere)::

    DIR/manifest.json            format, generation, model, dimension, documents, checksums
    DIR/gen-000007/documents.jsonl   one JSON object per document, text included
    DIR/gen-000007/spans.npy         int32 (n, 5): document row, start, end, paragraph, heading
    DIR/gen-000007/vectors.npy       float32 (n, dimension), unit vectors

Each save writes a new generation folder, then replaces ``manifest.json`` atomically; a
crash at any moment leaves the old generation or the new one, never a mix.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import IndexStoreError, ModelMismatchError
from .loading import Document, file_sha256
from .sentences import Span

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
FILES = ("documents.jsonl", "spans.npy", "vectors.npy")
_GENERATION_FOLDER = re.compile(r"gen-\d{6,}")
# Up to this many sentences search is exact: one matrix-vector product over float32 vectors
# (a 50k scan reads 77 MB, a few ms on one core). Above it an IVF index with 8-bit codes
# picks candidates and the stored vectors, kept as float16 to halve memory, rescore them
# exactly; recall@10 against exact search is measured in bench/RESULTS.md ("Speed and scale").
EXACT_SEARCH_LIMIT = 50_000
# IVF parameters: ~sqrt(n) lists, trained on at most 64 points a list (k-means cost grows
# with both), NPROBE lists scanned per query, RESCORE candidates rescored per result wanted.
IVF_POINTS_PER_LIST = 64
IVF_NPROBE = 48
IVF_RESCORE = 4


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

    def __post_init__(self):
        if self.vectors.shape[0] == 0 and self.vectors.shape[1] != self.dimension:
            object.__setattr__(self, "vectors", np.zeros((0, self.dimension), dtype=np.float32))
        # Memory layout: float32 for exact search (BLAS wants it); float16 above the limit,
        # where the IVF index holds its own 8-bit codes and these only rescore candidates.
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

    def changed(self, add: list[tuple[Document, list[Span], np.ndarray]] = (), remove: set[str] = frozenset()) -> "Store":
        """A new Store with the documents in ``remove`` dropped and those in ``add`` added or replaced."""
        replace = remove | {doc.path for doc, _, _ in add}
        keep = [i for i, d in enumerate(self.documents) if d.path not in replace]
        rows = self.doc_rows()
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
            vector_parts.append(np.asarray(vectors, dtype=np.float32).reshape(-1, self.dimension))
        spans = np.concatenate(span_parts) if span_parts else np.zeros((0, 5), dtype=np.int32)
        vectors = np.concatenate(vector_parts) if vector_parts else np.zeros((0, self.dimension), dtype=np.float32)
        return Store(self.model, self.dimension, tuple(docs), spans, np.ascontiguousarray(vectors), self.generation)

    # -- search -----------------------------------------------------------------------

    def _index(self):
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


def vector_dtype(n: int) -> type:
    """How a Store of ``n`` sentences keeps its vectors in memory (and on disk)."""
    return np.float32 if n <= EXACT_SEARCH_LIMIT else np.float16


class ExactIndex:
    """Exact inner-product search: one matrix-vector product per query, no copy of the vectors."""

    def __init__(self, vectors: np.ndarray):
        self.vectors = vectors

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        scores = queries @ self.vectors.T
        return _top_k(scores, np.broadcast_to(np.arange(scores.shape[1]), scores.shape), k)


class ApproximateIndex:
    """FAISS IVF with 8-bit scalar-quantized codes; candidates rescored with the exact vectors.

    The IVF scan over 8-bit codes ranks well but not exactly; taking ``IVF_RESCORE`` times
    more candidates than asked and rescoring them with the stored vectors gives the exact
    order among everything the probed lists hold.
    """

    def __init__(self, vectors: np.ndarray, nprobe: int | None = None, seed: int = 1234):
        import faiss

        n, d = vectors.shape
        self.vectors = vectors
        nlist = max(1, min(int(round(np.sqrt(n))), n // 39 or 1))  # faiss wants >= 39 points a list
        coarse = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFScalarQuantizer(coarse, d, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
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


# -- persistence ----------------------------------------------------------------------

def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_file(path: Path, write) -> dict:
    with open(path, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    return {"sha256": file_sha256(path), "bytes": path.stat().st_size}


@contextlib.contextmanager
def _locked(directory: Path):
    import fcntl

    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def save(store: Store, directory: str | Path) -> Store:
    """Write ``store`` as the next generation under ``directory``; returns it with its generation."""
    directory = Path(directory)
    with _locked(directory):
        try:
            current = _read_manifest(directory) if (directory / MANIFEST).exists() else None
        except IndexStoreError:
            current = None  # a corrupted index is being rebuilt: nothing in it is worth keeping
        # A save killed after renaming its folder but before switching the manifest leaves an
        # orphan folder that may carry the very name this save is about to use: clear it first.
        _collect_garbage(directory, keep=current.get("folder") if current else None)
        generation = max(store.generation, int(current.get("generation", 0)) if current else 0) + 1
        name = f"gen-{generation:06d}"
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=directory))
        try:
            os.chmod(tmp, 0o755)
            files = {
                "documents.jsonl": _write_file(tmp / "documents.jsonl", lambda f: _write_documents(f, store.documents)),
                "spans.npy": _write_file(tmp / "spans.npy", lambda f: np.save(f, store.spans, allow_pickle=False)),
                "vectors.npy": _write_file(tmp / "vectors.npy", lambda f: np.save(f, store.vectors, allow_pickle=False)),
            }
            _fsync_dir(tmp)
            os.replace(tmp, directory / name)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        _fsync_dir(directory)
        manifest = {
            "format": FORMAT_VERSION,
            "generation": generation,
            "folder": name,
            "model": store.model,
            "dimension": store.dimension,
            "sentences": len(store),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "files": files,
            "documents": [{"path": d.path, "sha256": d.sha256, "sentences": int(c)}
                          for d, c in zip(store.documents, np.diff(store.doc_rows()))],
        }
        tmp_manifest = directory / f".{MANIFEST}.{os.getpid()}.tmp"
        _write_file(tmp_manifest, lambda f: f.write(json.dumps(manifest, indent=1).encode()))
        os.replace(tmp_manifest, directory / MANIFEST)
        _fsync_dir(directory)
        _collect_garbage(directory, keep=name)
    return Store(store.model, store.dimension, store.documents, store.spans, store.vectors, generation, store._faiss)


def _write_documents(f, documents) -> None:
    for d in documents:
        f.write(json.dumps(d.__dict__, ensure_ascii=False).encode("utf-8", "surrogatepass") + b"\n")


def _collect_garbage(directory: Path, keep: str | None) -> None:
    """Remove every generation folder but ``keep``, and leftovers of interrupted saves.

    Only called under ``_locked``: no other writer can be half-way through a save here.
    """
    for child in directory.iterdir():
        if child.name == keep:
            continue
        if child.is_dir() and (child.name.startswith("gen-") or child.name.startswith(".gen-")):
            shutil.rmtree(child, ignore_errors=True)
        elif child.name.startswith(f".{MANIFEST}.") and child.name.endswith(".tmp"):
            child.unlink(missing_ok=True)


def _read_manifest(directory: Path) -> dict:
    path = directory / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexStoreError(f"no index at {directory} (no {MANIFEST}); build one with: qa index DOCS_DIR") from None
    except (OSError, ValueError) as err:
        raise IndexStoreError(f"{path} is unreadable or corrupted ({err}); delete {directory} and rebuild with: qa index DOCS_DIR") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_VERSION:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise IndexStoreError(f"{path} has format {found!r}, this qa reads format {FORMAT_VERSION}; rebuild with: qa index DOCS_DIR --rebuild")
    return manifest


def exists(directory: str | Path) -> bool:
    return (Path(directory) / MANIFEST).exists()


def load(directory: str | Path, model: str | None = None, dimension: int | None = None) -> Store:
    """Load the current generation under ``directory``, verifying every checksum.

    ``model``/``dimension``, when given, must match what the index was built with. A save
    in another process may switch generations (and delete the old one) while this reads;
    then the new manifest is read and the load tried again.
    """
    directory = Path(directory)
    for attempt in range(5):
        manifest = _read_manifest(directory)
        _check_model(directory, manifest, model, dimension)
        try:
            return _load_generation(directory, manifest)
        except IndexStoreError:
            if attempt < 4 and _manifest_moved(directory, manifest):
                continue
            raise
    raise AssertionError("unreachable")


def _manifest_moved(directory: Path, manifest: dict) -> bool:
    try:
        return _read_manifest(directory).get("folder") != manifest.get("folder")
    except IndexStoreError:
        return False


def _check_model(directory: Path, manifest: dict, model: str | None, dimension: int | None) -> None:
    if model is not None and manifest.get("model") != model:
        raise ModelMismatchError(
            f"the index at {directory} was built with model {manifest.get('model')!r}, not {model!r}; "
            f"use --model {manifest.get('model')} or rebuild it with --rebuild"
        )
    if dimension is not None and manifest.get("dimension") != dimension:
        raise ModelMismatchError(
            f"the index at {directory} holds {manifest.get('dimension')}-dimensional vectors but the model makes "
            f"{dimension}-dimensional ones; rebuild it with --rebuild"
        )


def _load_generation(directory: Path, manifest: dict) -> Store:
    rebuild = "rebuild with: qa index DOCS_DIR --rebuild"
    try:
        folder_name, files = manifest["folder"], manifest["files"]
        model, dimension, generation = str(manifest["model"]), int(manifest["dimension"]), int(manifest["generation"])
        listed, sentences = manifest["documents"], int(manifest["sentences"])
        if not isinstance(files, dict) or not isinstance(listed, list):
            raise TypeError("files must be an object and documents a list")
    except (KeyError, TypeError, ValueError) as err:
        raise IndexStoreError(f"{directory / MANIFEST} is incomplete or corrupted ({err!r}); {rebuild}") from None
    # The manifest names a folder inside the index, never a path elsewhere.
    if not isinstance(folder_name, str) or not _GENERATION_FOLDER.fullmatch(folder_name):
        raise IndexStoreError(f"{directory / MANIFEST} names an invalid generation folder {folder_name!r}; {rebuild}")
    if sorted(files) != sorted(FILES):
        raise IndexStoreError(f"{directory / MANIFEST} does not list the index files {', '.join(FILES)}; {rebuild}")
    folder = directory / folder_name
    data = {}
    for name in FILES:
        path = folder / name
        # Each file is read once and parsed from the bytes whose checksum was verified.
        try:
            data[name] = path.read_bytes()
        except FileNotFoundError:
            raise IndexStoreError(f"index file {path} is missing; {rebuild}") from None
        except OSError as err:
            raise IndexStoreError(f"index file {path} is unreadable ({err.strerror or err}); {rebuild}") from None
        meta = files[name]
        if not isinstance(meta, dict) or len(data[name]) != meta.get("bytes") \
                or hashlib.sha256(data[name]).hexdigest() != meta.get("sha256"):
            raise IndexStoreError(f"index file {path} is truncated or corrupted (checksum mismatch); {rebuild}")
    try:
        text = data["documents.jsonl"].decode("utf-8", "surrogatepass")
        documents = tuple(Document(**json.loads(line)) for line in text.splitlines() if line.strip())
        spans = np.load(io.BytesIO(data["spans.npy"]), allow_pickle=False)
        vectors = np.load(io.BytesIO(data["vectors.npy"]), allow_pickle=False)
    except (OSError, ValueError, TypeError) as err:
        raise IndexStoreError(f"index at {directory} is corrupted ({err}); {rebuild}") from None
    if (len(documents) != len(listed) or spans.ndim != 2 or spans.shape[1] != 5 or len(spans) != sentences
            or vectors.ndim != 2 or vectors.shape != (sentences, dimension)
            or [d.path for d in documents] != [entry.get("path") if isinstance(entry, dict) else None for entry in listed]):
        raise IndexStoreError(f"index at {directory} does not match its manifest; {rebuild}")
    spans = spans.astype(np.int32, copy=False)
    if len(spans):
        lengths = np.array([len(d.text) for d in documents], dtype=np.int64)
        rows = spans[:, 0]
        if rows.min() < 0 or rows.max() >= len(documents) or np.any(spans[:, 1] < 0) or np.any(spans[:, 1] > spans[:, 2]) \
                or np.any(spans[:, 2] > lengths[rows]):
            raise IndexStoreError(f"index at {directory} has sentence spans outside its documents; {rebuild}")
    return Store(model, dimension, documents, spans, np.ascontiguousarray(vectors, dtype=np.float32), generation)
