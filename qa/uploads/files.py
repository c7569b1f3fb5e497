"""Uploads: put a new article into the documents folder and the index, or take one out.

The folder and the index must keep agreeing (the next start-up syncs the index to the
folder), so a refused upload changes neither, and a file is only left in the folder once
its document is indexed.

>>> import tempfile
>>> from qa import Retriever
>>> docs, index = tempfile.mkdtemp(), tempfile.mkdtemp()
>>> retriever = Retriever.from_directory(docs, index_dir=index)
>>> add_upload(retriever, docs, b"Solar Farm Opens\\n\\nThe farm powers 9,000 homes.", "solar.txt").path
'solar.txt'
>>> retriever.search("How many homes does the farm power?", k=1).hits[0].text
'The farm powers 9,000 homes.'
"""

from __future__ import annotations

import logging
import os
import threading
import unicodedata
from pathlib import Path

from ..errors import DocumentError
from ..documents.loading import SUPPORTED_SUFFIXES, Document, parse_bytes
from ..retrieval import Retriever, UpdateReport

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_NAME_CHARS = 150
_lock = threading.Lock()  # one change to the folder and the index at a time


def safe_name(name: str) -> str:
    """The file name to store an upload under, or ``DocumentError`` saying why it is refused.

    Only plain file names with a supported suffix pass: no folders, no ``..``, no hidden
    files (the folder scan skips them), no control characters.

    >>> safe_name("  Ecuador report.md ")
    'Ecuador report.md'
    >>> safe_name("../../x.txt")
    Traceback (most recent call last):
    ...
    qa.errors.DocumentError: ../../x.txt: a file name cannot contain folders or '..'; rename the file
    """
    if not isinstance(name, str):
        raise DocumentError("the upload has no file name")
    cleaned = unicodedata.normalize("NFC", name).strip()
    shown = cleaned[:80] or "(no name)"
    if not cleaned:
        raise DocumentError("the upload has no file name")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in cleaned):
        raise DocumentError(f"{shown!r}: the file name holds control characters; rename the file")
    if "/" in cleaned or "\\" in cleaned or cleaned in (".", "..") or ".." in cleaned.split("/"):
        raise DocumentError(f"{shown}: a file name cannot contain folders or '..'; rename the file")
    if cleaned.startswith("."):
        raise DocumentError(f"{shown}: hidden files (starting with '.') are not indexed; rename the file")
    if len(cleaned) > MAX_NAME_CHARS:
        raise DocumentError(f"{shown}…: the file name is over {MAX_NAME_CHARS} characters; shorten it")
    suffix = Path(cleaned).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DocumentError(f"{shown}: unsupported file type {suffix or '(none)'}; use one of {', '.join(SUPPORTED_SUFFIXES)}")
    return cleaned


def add_upload(retriever: Retriever, docs_dir: str | Path, data: bytes, name: str,
               max_bytes: int = MAX_UPLOAD_BYTES, progress: bool = False) -> Document:
    """Check, save and index one uploaded file; returns the indexed Document.

    Raises ``DocumentError`` (and changes nothing) for a bad name, a name already in the
    folder, a file over ``max_bytes``, empty or binary data, an unsupported or unreadable
    type, or text identical to an indexed document.
    """
    name = safe_name(name)
    if len(data) > max_bytes:
        raise DocumentError(f"{name}: {len(data):,} bytes is over the {max_bytes:,}-byte upload limit; split the file")
    folder = Path(docs_dir)
    doc = parse_bytes(data, name, max_bytes=max_bytes)
    with _lock:
        taken = {p.name.casefold() for p in folder.iterdir()} if folder.is_dir() else set()
        taken |= {d.path.casefold() for d in retriever.documents}
        if name.casefold() in taken:
            raise DocumentError(f"{name}: a document with this name already exists; rename the file or remove the old one first")
        for known in retriever.documents:
            if known.sha256 == doc.sha256:
                raise DocumentError(f"{name}: the same text is already indexed as {known.path} ({known.title})")
        target = _write_new(folder, name, data)
        try:
            retriever.add([doc], progress=progress)
        except BaseException:
            # Leave the folder as it was: an unindexed file would reappear at the next start.
            target.unlink(missing_ok=True)
            if doc.path in {d.path for d in retriever.documents}:
                retriever.remove(doc.path, save=False)
            raise
    log.info("added %s (%s)", name, doc.title)
    return doc


def _write_new(folder: Path, name: str, data: bytes) -> Path:
    """Write ``data`` to ``folder/name`` completely or not at all, never over an existing file."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    # Hidden temporary name: a folder scan during the write skips it.
    tmp = folder / f".upload-{os.getpid()}-{threading.get_ident()}.tmp"
    try:
        with open(tmp, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp, target)  # fails if target exists, unlike a rename
    except FileExistsError:
        raise DocumentError(f"{name}: a document with this name already exists; rename the file or remove the old one first") from None
    except OSError as err:
        raise DocumentError(f"{name}: cannot save it into the documents folder ({err.strerror or err})") from None
    finally:
        tmp.unlink(missing_ok=True)
    return target


def remove_document(retriever: Retriever, docs_dir: str | Path, doc: str) -> UpdateReport:
    """Delete an indexed document's file from ``docs_dir`` and drop it from the index.

    Raises ``DocumentError`` if ``doc`` is not an indexed document of that folder.
    """
    with _lock:
        retriever.document(doc)  # raises for a name that is not indexed
        folder = Path(docs_dir).resolve()
        path = (folder / doc).resolve()
        if not path.is_relative_to(folder) or path == folder:
            raise DocumentError(f"{doc}: not a file of the documents folder")
        try:
            path.unlink(missing_ok=True)
        except OSError as err:
            raise DocumentError(f"{doc}: cannot delete the file ({err.strerror or err})") from None
        report = retriever.remove(doc)
    log.info("removed %s", doc)
    return report
