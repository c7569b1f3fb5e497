"""Sentences: split a document into sentences whose offsets point into its text exactly.

Segmentation is sentencex's (a rule-based segmenter with abbreviation lists and quote
rules). Around it this module knows the layout of news files: paragraphs are lines (or
blank-line separated blocks when the file has blank lines), and short lines without closing
punctuation are subheadings, kept as their own one-sentence paragraphs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .loading import Document

MAX_SENTENCE_CHARS = 1000  # longer runs (tables, text without punctuation) are cut at spaces
_HEADING_MAX_CHARS = 120
_CLOSING = (".", "?", "!", ":", ";", ",", '"', "\u201d", "'", "\u2019", ")", "\u2026")
_LINE_PREFIX = re.compile(r"[ \t]*(?:#{1,6}[ \t]+|[-*+\u2022][ \t]+|>[ \t]*)")
_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")
_WORD = re.compile(r"\w", re.UNICODE)


@dataclass(frozen=True)
class Sentence:
    """One sentence with its provenance: enough to render a citation with nothing else.

    ``document.text[start:end] == text`` always holds. ``number`` counts sentences in the
    document from 1 (``total`` of them) and ``paragraph`` counts paragraphs from 1.
    """

    doc: str
    title: str
    source: str | None
    date: str | None
    number: int
    total: int
    paragraph: int
    start: int
    end: int
    text: str
    heading: bool = False


@dataclass(frozen=True)
class Span:
    """Where a sentence lies in its document, without the text: what the index stores."""

    start: int
    end: int
    paragraph: int
    heading: bool = False


def split_document(doc: Document) -> list[Span]:
    """Split a document's body into sentence spans, in order.

    >>> from qa.documents.loading import parse_text
    >>> doc = parse_text('Title\\n\\nDr. Smith paid $1.13bn. He called it "a great deal." Done.', "a.txt")
    >>> [doc.text[s.start:s.end] for s in split_document(doc)]
    ['Dr. Smith paid $1.13bn.', 'He called it "a great deal."', 'Done.']
    """
    text = doc.text
    body = text[doc.body_start:]
    spans: list[Span] = []
    paragraph = 0
    for block_start, block_end in _blocks(body, doc.body_start):
        for part_start, part_end, heading in _parts(text, block_start, block_end):
            paragraph += 1
            if heading:
                spans.append(Span(part_start, part_end, paragraph, True))
            else:
                spans.extend(Span(s, e, paragraph) for s, e in _segment(text, part_start, part_end))
    return spans


def _blocks(body: str, base: int):
    """Paragraph blocks as (start, end) in document offsets."""
    if _BLANK_LINE.search(body):
        pos = 0
        for m in _BLANK_LINE.finditer(body):
            yield base + pos, base + m.start()
            pos = m.end()
        yield base + pos, base + len(body)
    else:
        pos = 0
        for line in body.splitlines(keepends=True):
            yield base + pos, base + pos + len(line)
            pos += len(line)


def _parts(text: str, start: int, end: int):
    """Split a block into runs of prose and heading lines: (start, end, is_heading)."""
    run_start = None
    pos = start
    lines = text[start:end].splitlines(keepends=True)
    for i, line in enumerate(lines):
        line_start, line_end = pos, pos + len(line)
        pos = line_end
        stripped = line.strip()
        if not stripped:
            continue
        prefix = _LINE_PREFIX.match(line)
        is_md_heading = prefix is not None and prefix.group(0).lstrip().startswith("#")
        is_last = i == len(lines) - 1
        if is_md_heading or (_is_heading(stripped) and (len(lines) == 1 or not is_last)):
            if run_start is not None:
                yield run_start, line_start, False
                run_start = None
            s = line_start + (prefix.end() if prefix else 0)
            s, e = _trim(text, s, line_end)
            if s < e:
                yield s, e, True
        elif run_start is None:
            run_start = line_start + (prefix.end() if prefix else 0)
    if run_start is not None:
        yield run_start, end, False


def _is_heading(line: str) -> bool:
    return len(line) <= _HEADING_MAX_CHARS and not line.endswith(_CLOSING) and len(line.split()) <= 15


def _segment(text: str, start: int, end: int):
    import sentencex

    chunk = text[start:end]
    for b in sentencex.get_sentence_boundaries("en", chunk):
        s, e = _trim(text, start + b["start_index"], start + b["end_index"])
        if s >= e or not _WORD.search(text[s:e]):
            continue
        yield from _cut_long(text, s, e)


def _cut_long(text: str, start: int, end: int):
    while end - start > MAX_SENTENCE_CHARS:
        cut = text.rfind(" ", start + MAX_SENTENCE_CHARS // 2, start + MAX_SENTENCE_CHARS)
        cut = cut if cut > start else start + MAX_SENTENCE_CHARS
        s, e = _trim(text, start, cut)
        if s < e:
            yield s, e
        start, end = _trim(text, cut, end)
    if start < end:
        yield start, end


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
