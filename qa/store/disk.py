"""Disk: a LocalStore written to and read from a folder, crash-safe and checksummed.

On disk (no pickle anywhere)::

    DIR/manifest.json            format, generation, model, dimension, documents, checksums
    DIR/gen-000007/documents.jsonl   one JSON object per document, text included
    DIR/gen-000007/spans.npy         int32 (n, 5): document row, start, end, paragraph, heading
    DIR/gen-000007/vectors.npy       unit vectors (n, dimension): float32 up to EXACT_SEARCH_LIMIT
                                     sentences, float16 above
    DIR/gen-000007/ivf.faiss         above EXACT_SEARCH_LIMIT only: the IVF index (FAISS format)

Each save writes a new generation folder, then replaces ``manifest.json`` atomically; a
crash at any moment leaves the old generation or the new one, never a mix. Every file the
manifest lists is checked against its sha256 before it is used.

Above EXACT_SEARCH_LIMIT the loaded store does not read ``vectors.npy`` into memory: once its
checksum has been verified the file is memory-mapped read-only, and search reads the rows it
rescores. That mapping sees exactly the verified bytes because qa never rewrites a generation
folder: a save writes a fresh folder under a temporary name and renames it whole; old
folders are only ever deleted, and a deleted file stays readable through an existing
mapping. (Something outside qa writing into a generation folder would go unnoticed by a
mapping; the same tampering is caught by the next load.)

Vectors stored in the other layout (float32 above the limit or float16 below it: an index
saved while EXACT_SEARCH_LIMIT was elsewhere) are read into memory and converted, once.

The IVF index is derived data: an index written before format 2 has none, and a missing
``ivf.faiss`` is rebuilt from the vectors on first search; a damaged one is an error like
any other damaged file.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import logging
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..documents.loading import Document, file_sha256, stream_sha256
from ..errors import IndexStoreError, ModelMismatchError
from .corpus import Corpus
from . import faiss_index

log = logging.getLogger(__name__)

# Format 2 added ivf.faiss; format 1 (without it) is still read.
FORMAT_VERSION = 2
READABLE_FORMATS = (1, 2)
MANIFEST = "manifest.json"
FILES = ("documents.jsonl", "spans.npy", "vectors.npy")  # in every generation
IVF_FILE = "ivf.faiss"  # only above EXACT_SEARCH_LIMIT
VECTOR_DTYPES = (np.dtype(np.float32), np.dtype(np.float16))
REBUILD = "rebuild with: qa index DOCS_DIR --rebuild"
_GENERATION_FOLDER = re.compile(r"gen-\d{6,}")


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


def save(store, directory: str | Path):
    """Write ``store`` (a ``LocalStore``) as the next generation under ``directory``; returns it with its generation.

    Above EXACT_SEARCH_LIMIT this builds the IVF index if the store has none yet (what its
    first search would do) and writes it too; the store returned then maps the saved
    vectors rather than holding them in memory.
    """
    directory = Path(directory)
    # Built before taking the lock: a minute at a million sentences, no other writer need wait.
    ivf = store.faiss_index() if store.approximate else None
    if not isinstance(ivf, faiss_index.ApproximateIndex):
        ivf = None  # an exact index built before EXACT_SEARCH_LIMIT was lowered: nothing to store
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
                "documents.jsonl": _write_file(tmp / "documents.jsonl", lambda f: _write_documents(f, store.corpus.documents)),
                "spans.npy": _write_file(tmp / "spans.npy", lambda f: np.save(f, store.corpus.spans, allow_pickle=False)),
                "vectors.npy": _write_file(tmp / "vectors.npy", lambda f: np.save(f, store.matrix, allow_pickle=False)),
            }
            if ivf is not None:
                files[IVF_FILE] = _write_file(tmp / IVF_FILE, ivf.write)
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
                          for d, c in zip(store.corpus.documents, np.diff(store.corpus.doc_rows()))],
        }
        tmp_manifest = directory / f".{MANIFEST}.{os.getpid()}.tmp"
        _write_file(tmp_manifest, lambda f: f.write(json.dumps(manifest, indent=1).encode()))
        os.replace(tmp_manifest, directory / MANIFEST)
        _fsync_dir(directory)
        _collect_garbage(directory, keep=name)
        vectors = None
        if store.approximate:  # above the switch the vectors are float16, as vectors.npy holds them
            # The file was written (and fsynced) from these very values; a later save deleting
            # the folder leaves the mapping readable.
            vectors = np.load(directory / name / "vectors.npy", mmap_mode="r", allow_pickle=False)
    return store.renumbered(generation, vectors)


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
    if not isinstance(manifest, dict) or manifest.get("format") not in READABLE_FORMATS:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise IndexStoreError(f"{path} has format {found!r}, this qa reads formats "
                              f"{', '.join(map(str, READABLE_FORMATS))}; {REBUILD}")
    return manifest


def exists(directory: str | Path) -> bool:
    return (Path(directory) / MANIFEST).exists()


@dataclass(frozen=True)
class Stored:
    """One generation as read from disk; ``ivf(vectors)`` reads its IVF index, if it has one."""

    model: str
    dimension: int
    corpus: Corpus
    vectors: np.ndarray
    generation: int
    ivf: Callable[[np.ndarray], object] | None = None


def read(directory: str | Path, model: str | None = None, dimension: int | None = None) -> Stored:
    """Read the current generation under ``directory``, verifying every checksum.

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


def _load_generation(directory: Path, manifest: dict) -> Stored:
    try:
        folder_name, files = manifest["folder"], manifest["files"]
        model, dimension, generation = str(manifest["model"]), int(manifest["dimension"]), int(manifest["generation"])
        listed, sentences = manifest["documents"], int(manifest["sentences"])
        if not isinstance(files, dict) or not isinstance(listed, list):
            raise TypeError("files must be an object and documents a list")
    except (KeyError, TypeError, ValueError) as err:
        raise IndexStoreError(f"{directory / MANIFEST} is incomplete or corrupted ({err!r}); {REBUILD}") from None
    # The manifest names a folder inside the index, never a path elsewhere.
    if not isinstance(folder_name, str) or not _GENERATION_FOLDER.fullmatch(folder_name):
        raise IndexStoreError(f"{directory / MANIFEST} names an invalid generation folder {folder_name!r}; {REBUILD}")
    if set(files) - {IVF_FILE} != set(FILES) or (IVF_FILE in files and manifest.get("format") < 2):
        raise IndexStoreError(f"{directory / MANIFEST} does not list the index files {', '.join(FILES)}; {REBUILD}")
    folder = directory / folder_name
    approximate = sentences > faiss_index.EXACT_SEARCH_LIMIT
    # Each file is read once and parsed from the bytes whose checksum was verified (or, for
    # mapped vectors, mapped from the file whose checksum was verified).
    data = {name: _read_verified(folder / name, files[name]) for name in ("documents.jsonl", "spans.npy")}
    vectors = _load_vectors(folder / "vectors.npy", files["vectors.npy"], mapped=approximate)
    try:
        text = data.pop("documents.jsonl").decode("utf-8", "surrogatepass")
        documents = tuple(Document(**json.loads(line)) for line in text.splitlines() if line.strip())
        del text
        spans = np.load(io.BytesIO(data.pop("spans.npy")), allow_pickle=False)
    except (OSError, ValueError, TypeError) as err:
        raise IndexStoreError(f"index at {directory} is corrupted ({err}); {REBUILD}") from None
    if (len(documents) != len(listed) or spans.ndim != 2 or spans.shape[1] != 5 or len(spans) != sentences
            or vectors.ndim != 2 or vectors.shape != (sentences, dimension) or vectors.dtype not in VECTOR_DTYPES
            or [d.path for d in documents] != [entry.get("path") if isinstance(entry, dict) else None for entry in listed]):
        raise IndexStoreError(f"index at {directory} does not match its manifest; {REBUILD}")
    spans = spans.astype(np.int32, copy=False)
    if len(spans):
        lengths = np.array([len(d.text) for d in documents], dtype=np.int64)
        rows = spans[:, 0]
        if rows.min() < 0 or rows.max() >= len(documents) or np.any(spans[:, 1] < 0) or np.any(spans[:, 1] > spans[:, 2]) \
                or np.any(spans[:, 2] > lengths[rows]):
            raise IndexStoreError(f"index at {directory} has sentence spans outside its documents; {REBUILD}")
    ivf = None
    if approximate and IVF_FILE in files:
        ivf = functools.partial(_load_ivf, folder / IVF_FILE, files[IVF_FILE])
    return Stored(model, dimension, Corpus(documents, spans), vectors, generation, ivf)


def _verify(path: Path, meta, digest: str, size: int) -> None:
    """Raise unless ``digest`` and ``size`` are what the manifest's ``meta`` lists for ``path``."""
    if not isinstance(meta, dict) or size != meta.get("bytes") or digest != meta.get("sha256"):
        raise IndexStoreError(f"index file {path} is truncated or corrupted (checksum mismatch); {REBUILD}")


def _unreadable(path: Path, err: OSError) -> IndexStoreError:
    return IndexStoreError(f"index file {path} is unreadable ({err.strerror or err}); {REBUILD}")


def _open(path: Path):
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise IndexStoreError(f"index file {path} is missing; {REBUILD}") from None
    except OSError as err:
        raise _unreadable(path, err) from None


def _read_verified_file(path: Path, f, meta) -> bytes:
    try:
        data = f.read()
    except OSError as err:
        raise _unreadable(path, err) from None
    _verify(path, meta, hashlib.sha256(data).hexdigest(), len(data))
    return data


def _read_verified(path: Path, meta) -> bytes:
    """The bytes of ``path``, once their size and sha256 match the manifest's ``meta``."""
    with _open(path) as f:
        return _read_verified_file(path, f, meta)


def _load_vectors(path: Path, meta, mapped: bool) -> np.ndarray:
    """The vectors in ``path``: mapped read-only when ``mapped`` and stored as float16, else read.

    One open file serves the checksum and the mapping, so a save that deletes this
    generation in between cannot swap the bytes.
    """
    with _open(path) as f:
        header = _npy_header(f) if mapped else None
        if header is None or header[0] != np.dtype("<f2") or header[1] or 0 in header[2]:
            f.seek(0)
            return np.load(io.BytesIO(_read_verified_file(path, f, meta)), allow_pickle=False)
        dtype, _, shape, offset = header
        f.seek(0)
        try:
            # Hashed through read(), not the mapping: reading a page through the mapping
            # would make it resident in this process.
            digest, size = stream_sha256(f)
        except OSError as err:
            raise _unreadable(path, err) from None
        _verify(path, meta, digest, size)
        # The checksum vouches for the bytes, not for the header's promise about them.
        if offset + int(np.prod(shape)) * dtype.itemsize != size:
            raise IndexStoreError(f"index file {path} holds fewer or more vectors than its header says; {REBUILD}")
        return np.memmap(f, dtype=dtype, mode="r", offset=offset, shape=shape)


def _npy_header(f) -> tuple[np.dtype, bool, tuple, int] | None:
    """(dtype, fortran order, shape, data offset) of the .npy file ``f``; None if it has no valid header.

    Read before the checksum is verified, only to choose how to load: a damaged header then
    fails that check like any other damage.
    """
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            return None
    except (ValueError, OSError, SyntaxError):
        return None
    return dtype, fortran, shape, f.tell()


def _load_ivf(path: Path, meta, vectors: np.ndarray):
    """The IVF index stored in ``path`` for ``vectors``; None (rebuilt on first search) if the file is gone."""
    try:
        with open(path, "rb") as f:
            data = _read_verified_file(path, f, meta)
    except FileNotFoundError:
        log.warning("%s is missing; the IVF index will be rebuilt from the vectors on first search", path)
        return None
    except OSError as err:
        raise _unreadable(path, err) from None
    try:
        return faiss_index.ApproximateIndex.read(data, vectors)
    except ValueError as err:
        raise IndexStoreError(f"index file {path} is corrupted ({err}); {REBUILD}") from None
