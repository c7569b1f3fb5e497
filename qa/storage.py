"""Storage: a Store written to and read from disk, crash-safe and checksummed.

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
from pathlib import Path

import numpy as np

from .errors import IndexStoreError, ModelMismatchError
from .index import Store
from .loading import Document, file_sha256

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
FILES = ("documents.jsonl", "spans.npy", "vectors.npy")
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
