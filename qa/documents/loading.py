"""Documents: read files (.txt, .md, .html, .pdf) into text plus metadata.

Offsets everywhere in qa point into ``Document.text``, which for .txt and .md files is the
file's text exactly as stored (decoded, newlines untouched) and for .html and .pdf files is
the extracted text.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from ..errors import DocumentError
from .dates import as_date, parse_date

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".pdf")
MAX_FILE_BYTES = 20 * 1024 * 1024

_DATE_LINE = re.compile(r"[ \t]*date[ \t]+(\d{4}-\d{2}-\d{2})\b[^\n]*\n?", re.IGNORECASE)
# "(MENAFN- The Rio Times) President ..." names the source at the start of the body.
_DATELINE = re.compile(r"[ \t]*\((?:MENAFN\s*-\s*)?([^()\n]{2,80})\)[ \t]*")
_MD_HEADING = re.compile(r"[ \t]*#{1,6}[ \t]+")
# A dateline names a source only if it reads like a name ("Reuters", "The Rio Times"), not a
# remark such as "(after extra-time - score at 90 mins 1-1)".
_SOURCE_NAME = re.compile(r"[A-Z](?:[^\W\d]|[&.'\u2019 -]){0,59}")
# Headlines may end in "?", "!", an ellipsis or an abbreviation ("... TO U.S.", "Acme Inc.").
_HEADLINE_END = re.compile(r"(?:[?!\u2026]|\.\.\.|\b(?:[A-Za-z]\.){2,}|\b(?:Inc|Corp|Co|Ltd|Jr|Sr|Bros|St)\.)[\"'\u201d\u2019)]*$")
# ". The" inside a line means a second sentence: that line is body text, not a headline.
_SENTENCE_BREAK = re.compile(r"(?<![A-Z])[.!?][\"'\u201d\u2019)]*\s+[A-Z]")


@dataclass(frozen=True)
class Document:
    """One article: its text and the metadata a citation needs.

    ``path`` is the document's name inside its corpus folder (POSIX style), which is how
    citations and question files refer to it; ``sha256`` is the hash of ``text``.
    ``body_start`` is where the article body begins, after the date, title and dateline.
    """

    path: str
    title: str
    text: str
    sha256: str
    body_start: int = 0
    date: str | None = None
    source: str | None = None
    kind: str = "txt"


@dataclass(frozen=True)
class Skipped:
    """A file that was not loaded, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class LoadReport:
    """What ``load_directory`` found: the documents, and every file it skipped with the reason."""

    documents: tuple[Document, ...]
    skipped: tuple[Skipped, ...]


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def file_sha256(path: str | Path) -> str:
    """The sha256 of a file's bytes, read in 1 MiB blocks."""
    with open(path, "rb") as f:
        return stream_sha256(f)[0]


def stream_sha256(f) -> tuple[str, int]:
    """The sha256 and the size of what is left to read in the binary file ``f``, read in 1 MiB blocks."""
    h, size = hashlib.sha256(), 0
    for block in iter(lambda: f.read(1 << 20), b""):
        h.update(block)
        size += len(block)
    return h.hexdigest(), size


def decode(data: bytes, name: str) -> str:
    """Decode file bytes: UTF-8 (with or without BOM), UTF-16 with a BOM, else cp1252.

    Binary data and bytes that fit none of these raise ``DocumentError`` naming the file.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return _decode_or_raise(data[3:], "utf-8", name)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _decode_or_raise(data, "utf-16", name)
    if b"\x00" in data:
        raise DocumentError(f"{name}: looks like binary data (NUL bytes), not text; convert it to UTF-8 text first")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            raise DocumentError(
                f"{name}: cannot tell its text encoding (not UTF-8, UTF-16 with BOM or cp1252); re-save it as UTF-8"
            ) from None
    if _looks_binary(text):
        raise DocumentError(f"{name}: looks like binary data, not text; convert it to UTF-8 text first")
    return text


def _decode_or_raise(data: bytes, encoding: str, name: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        raise DocumentError(f"{name}: starts with a {encoding} byte-order mark but is not valid {encoding}; re-save it as UTF-8") from None


def _looks_binary(text: str) -> bool:
    sample = text[:8192]
    if not sample:
        return False
    controls = sum(1 for c in sample if ord(c) < 32 and c not in "\n\r\t\f\v")
    return controls / len(sample) > 0.05


def parse_text(text: str, path: str, kind: str = "txt") -> Document:
    """Build a Document from text, reading the seed format's header when present.

    The seed format: an optional first line ``date YYYY-MM-DD <number>``, the title line, an
    optional dateline ``(MENAFN- The Rio Times)`` naming the source, then the body. After a
    seed date line the next line is the title whatever it ends with ("... TO U.S."). Plain
    articles (title line, blank line, body) and Markdown (``# Title``) work too, and a line
    that is only a date ("Monday, 5 May 2025") before or after the title gives the date.
    Without any of these, date and source are ``None``: qa never guesses them.

    >>> doc = parse_text("date 2025-05-05 1\\nTitle here\\n(MENAFN- The Rio Times) Body.", "a.txt")
    >>> doc.title, doc.date, doc.source, doc.text[doc.body_start:]
    ('Title here', '2025-05-05', 'The Rio Times', 'Body.')
    >>> doc = parse_text("May 5, 2025\\nPort deal signed\\n\\nThe port opened.", "b.txt")
    >>> doc.title, doc.date, doc.source
    ('Port deal signed', '2025-05-05', None)
    """
    pos = 0
    date = None
    m = _DATE_LINE.match(text)
    seed = m is not None
    if m:
        # "date 2025-02-30 7" is still the header line, but names no real day.
        parsed = as_date(m.group(1))
        date, pos = (parsed.isoformat() if parsed else None), m.end()
    pos = _skip_blank_lines(text, pos)
    if not seed:
        date, pos = _dated_line(text, pos, date)
    title = PurePosixPath(path).stem
    line_end = text.find("\n", pos)
    line_end = len(text) if line_end < 0 else line_end
    first_line = text[pos:line_end]
    has_more = text[line_end:].strip() != ""
    heading = _MD_HEADING.match(first_line) if kind == "md" else None
    if heading or (has_more and _is_title_line(first_line, after_header=seed)):
        title = first_line[heading.end():].strip() if heading else first_line.strip()
        title = title.strip("#").strip() or PurePosixPath(path).stem
        pos = _skip_blank_lines(text, min(line_end + 1, len(text)))
        if not seed:
            date, pos = _dated_line(text, pos, date)
    source = None
    m = _DATELINE.match(text, pos)
    if m and (seed or "MENAFN" in m.group(0) or _SOURCE_NAME.fullmatch(m.group(1).strip())):
        source, pos = m.group(1).strip(), m.end()
        if text[pos:pos + 1] in ("\n", "\r"):  # "(Reuters)" on a line of its own
            pos = _skip_blank_lines(text, pos)
    return Document(path=path, title=title, text=text, sha256=text_sha256(text), body_start=pos,
                    date=date, source=source, kind=kind)


def _dated_line(text: str, pos: int, date: str | None) -> tuple[str | None, int]:
    """If the line at ``pos`` is only a date (and none is known yet), take it and move past it."""
    if date is not None:
        return date, pos
    end = text.find("\n", pos)
    end = len(text) if end < 0 else end
    found = parse_date(text[pos:end])
    if found is None:
        return date, pos
    return found.isoformat(), _skip_blank_lines(text, min(end + 1, len(text)))


def _skip_blank_lines(text: str, pos: int) -> int:
    while True:
        end = text.find("\n", pos)
        if end < 0 or text[pos:end].strip():
            return pos
        pos = end + 1


def _is_title_line(line: str, after_header: bool = False) -> bool:
    """Whether an article's first line is its title rather than the start of its body.

    After a seed header the format says so. Otherwise a short line is a title unless it
    reads as body text: closing punctuation other than a headline's, or two sentences.
    """
    stripped = line.strip()
    if not 0 < len(stripped) <= 200:
        return False
    if after_header:
        return True
    if not stripped.endswith((".", "?", "!", ",", ";", ":", "\u2026")):
        return True
    if _SENTENCE_BREAK.search(stripped):
        return False
    # An all-capitals line is a wire headline, whatever it ends with ("... MARCH SALES.").
    if stripped[-1] not in ",;:" and not any(c.islower() for c in stripped) and len(stripped.split()) > 1:
        return True
    return bool(_HEADLINE_END.search(stripped))


def read_document(path: str | Path, name: str | None = None, max_bytes: int = MAX_FILE_BYTES) -> Document:
    """Read one file into a Document; ``name`` is its path inside the corpus (default: file name).

    Raises ``DocumentError`` for an unsupported type, a file over ``max_bytes``, an empty
    file, binary data or an unknown encoding.

    >>> doc = read_document("seeds/000_efff323ac530a1c5.txt")
    >>> doc.source
    'The Rio Times'
    """
    path = Path(path)
    name = name or path.name
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DocumentError(f"{name}: unsupported file type {suffix or '(none)'}; use one of {', '.join(SUPPORTED_SUFFIXES)}")
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise DocumentError(f"{name}: {size:,} bytes is over the {max_bytes:,}-byte limit; split the file or raise the limit")
        data = path.read_bytes()
    except OSError as err:
        raise DocumentError(f"{name}: cannot read it ({err.strerror or err})") from None
    return parse_bytes(data, name, max_bytes=max_bytes)


def parse_bytes(data: bytes, name: str, max_bytes: int = MAX_FILE_BYTES) -> Document:
    """Turn a file's bytes into a Document, by the type its ``name`` ends with."""
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DocumentError(f"{name}: unsupported file type {suffix or '(none)'}; use one of {', '.join(SUPPORTED_SUFFIXES)}")
    if len(data) > max_bytes:
        raise DocumentError(f"{name}: {len(data):,} bytes is over the {max_bytes:,}-byte limit; split the file or raise the limit")
    if not data.strip():
        raise DocumentError(f"{name}: the file is empty")
    if suffix == ".pdf":
        text, meta = _pdf_text(data, name)
        kind = "pdf"
    elif suffix in (".html", ".htm"):
        text, meta = _html_text(decode(data, name), name)
        kind = "html"
    else:
        text, meta, kind = decode(data, name), _Meta(), suffix[1:]
    if not text.strip():
        raise DocumentError(f"{name}: no text found in it")
    doc = parse_text(text, name, kind)
    # What the text itself says (seed header, dated line, dateline) comes first: a PDF's
    # creation date is often the day it was printed, not the day the story was published.
    changes = {key: value for key, value in (("date", meta.date), ("source", meta.source)) if value and not getattr(doc, key)}
    if meta.title and doc.title == PurePosixPath(name).stem:
        changes["title"] = meta.title
    return replace(doc, **changes) if changes else doc


@dataclass(frozen=True)
class _Meta:
    """What a file's own metadata says about the article, each part ``None`` when it says nothing."""

    title: str | None = None
    date: str | None = None
    source: str | None = None


def _clean(value, limit: int = 200) -> str | None:
    if not isinstance(value, str):
        return None
    value = " ".join(value.split())
    return value if 0 < len(value) <= limit else None


def _iso_date(value) -> str | None:
    d = as_date(value)
    return d.isoformat() if d and 1800 <= d.year <= 2200 else None


def _pdf_text(data: bytes, name: str) -> tuple[str, _Meta]:
    import io

    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise DocumentError(f"{name}: the PDF is encrypted; save an unencrypted copy first")
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
        info = reader.metadata
        title = (info.title if info else None) or None
    except DocumentError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as err:
        raise DocumentError(f"{name}: not a readable PDF ({err})") from None
    return "\n\n".join(p for p in pages if p), _Meta(_clean(title), *_pdf_date_and_source(reader))


def _pdf_date_and_source(reader) -> tuple[str | None, str | None]:
    """The publication date and publisher a PDF's metadata gives, each ``None`` when absent.

    Dates: XMP ``dc:date`` (Dublin Core's publication date), then ``/CreationDate``, then XMP
    ``xmp:CreateDate``; never ``/ModDate``. Source: XMP ``dc:publisher`` or a ``/Publisher``
    entry; ``/Author``, ``/Creator`` and ``/Producer`` name a person or a program, not a paper.
    """
    def attempt(get):
        # Metadata is optional: a malformed date or XMP packet must not refuse an article whose
        # text reads fine, so any failure here means "no such metadata".
        try:
            return get()
        except Exception:  # noqa: BLE001 - pypdf raises many kinds for broken metadata
            return None

    info, xmp = attempt(lambda: reader.metadata), attempt(lambda: reader.xmp_metadata)
    dates = [attempt(lambda: xmp.dc_date[0]), attempt(lambda: info.creation_date), attempt(lambda: xmp.xmp_create_date)]
    publishers = [attempt(lambda: xmp.dc_publisher[0]), attempt(lambda: str(info["/Publisher"]))]
    return (next((iso for iso in map(_iso_date, dates) if iso), None),
            next((name for name in (_clean(p, 80) for p in publishers) if name), None))


def _html_text(html: str, name: str) -> tuple[str, _Meta]:
    import trafilatura

    text = trafilatura.extract(html, include_comments=False, include_tables=True, favor_recall=True) or ""
    if not text.strip():
        # trafilatura looks for a main article; small pages have none, so take all visible text.
        text = trafilatura.html2txt(html) or ""
    # extensive=False: the date must come from the page's markup (meta tags, JSON-LD, <time>,
    # the URL), not from the first date mentioned in the story, which is when things happened.
    meta = trafilatura.extract_metadata(html, extensive=False)
    title = _clean(meta.title) if meta is not None else None
    if title and not text.lstrip().startswith(title):
        text = f"{title}\n\n{text}"
    if meta is None:
        return text, _Meta(title)
    # sitename is og:site_name or the like; the host name of the page's URL is the fallback.
    source = _clean(meta.sitename, 80) or _clean(meta.hostname, 80)
    return text, _Meta(title, _iso_date(meta.date), source)


def _walk(root: Path) -> list[Path]:
    """Visible files under root, sorted; follows symbolic links to folders, never in a loop."""
    seen, files = set(), []
    for folder, dirs, names in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        files.extend(Path(folder) / n for n in names if not n.startswith(".") and os.path.isfile(os.path.join(folder, n)))
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def load_directory(directory: str | Path, max_bytes: int = MAX_FILE_BYTES) -> LoadReport:
    """Load every supported file under ``directory`` (recursively, sorted by path).

    Nothing is dropped silently: empty, undecodable, oversized and unsupported files are
    listed in ``LoadReport.skipped`` with the reason. Hidden files and folders are ignored.

    >>> report = load_directory("seeds")
    >>> [d.path for d in report.documents]
    ['000_efff323ac530a1c5.txt']
    """
    root = Path(directory)
    if not root.is_dir():
        raise DocumentError(f"{directory}: no such folder; pass a folder of .txt, .md, .html or .pdf files")
    documents, skipped = [], []
    for path in _walk(root):
        rel = path.relative_to(root).as_posix()
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            skipped.append(Skipped(rel, f"unsupported file type {path.suffix or '(none)'}"))
            continue
        try:
            documents.append(read_document(path, rel, max_bytes=max_bytes))
        except DocumentError as err:
            log.warning("skipped %s", err)
            skipped.append(Skipped(rel, str(err).removeprefix(f"{rel}: ")))
    return LoadReport(tuple(documents), tuple(skipped))
