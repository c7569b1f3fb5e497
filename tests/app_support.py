"""Shared set-up for the tests that need the seed articles indexed (app, chat, render, browser ...).

The embedding model is loaded once per test process and shared by every Retriever the
tests build; each test that changes documents gets its own folder and index.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import socket
import tempfile
from pathlib import Path

from qa import Retriever
from qa.embedding import Embedder

# Tests import this module (and app.py) through pyproject.toml's pytest ``pythonpath``.
ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_DOC = "000_efff323ac530a1c5.txt"

HOSTAGE_SENTENCES = (
    "Both leaders also addressed the ongoing hostage situation in Gaza, with Noboa stating, "
    '"We cannot have a situation like this in the 21st century."',
    "He expressed support for the return of all hostages held by Hamas.",
)
# Another president, another hostage sentence worded like the question: a follow-up must
# not drift here when the conversation is about Ecuador.
DISTRACTOR = """date 2025-06-01 1
Colombia Hosts Regional Summit On Trade
(MENAFN- Andes Daily) Colombian President Gustavo Petro opened a regional trade summit in Bogota on Sunday.
Delegates from twelve countries discussed tariffs, coffee exports and port investments.
He said he would personally negotiate the release of the hostages held by armed groups. Families of the hostages protested outside the venue.
The summit closes on Tuesday with a joint declaration on customs cooperation.
"""


@functools.cache
def embedder() -> Embedder:
    return Embedder()


@functools.cache
def _seed_index() -> Path:
    """The seeds' index, built once per test process; tests get copies of it."""
    root = Path(tempfile.mkdtemp(prefix="qa-seed-index-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    Retriever.from_directory(SEEDS, index_dir=root, embedder=embedder())
    return root


def corpus(root: Path, extra: dict[str, str] | None = None) -> tuple[Retriever, Path]:
    """A Retriever over a copy of seeds/ (plus ``extra`` files) in ``root/docs``, indexed in ``root/index``."""
    docs = root / "docs"
    shutil.copytree(SEEDS, docs)
    for name, text in (extra or {}).items():
        (docs / name).write_text(text, encoding="utf-8")
    # Starting from a copy of the seeds' index only the extra files need embedding.
    shutil.copytree(_seed_index(), root / "index")
    return Retriever.from_directory(docs, index_dir=root / "index", embedder=embedder()), docs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def folder_state(docs: Path) -> dict[str, bytes]:
    """Every file under ``docs`` (hidden ones too) with its bytes, to show nothing changed."""
    return {p.relative_to(docs).as_posix(): p.read_bytes() for p in sorted(docs.rglob("*")) if p.is_file()}


def pdf_bytes(lines: list[str]) -> bytes:
    """A one-page PDF with the lines as real text (what a PDF export of an article holds)."""
    stream = ("BT /F1 12 Tf 14 TL 72 720 Td " + " ".join(f"({line}) Tj T*" for line in lines) + " ET").encode()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1) + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
