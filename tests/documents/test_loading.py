"""Loading: the seed format, plain and Markdown articles, encodings, and files refused with a reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa import DocumentError, load_directory, read_document
from qa.documents.loading import parse_bytes, parse_text

SEED = Path(__file__).resolve().parents[2] / "seeds" / "000_efff323ac530a1c5.txt"


def test_seed_header_gives_title_date_and_source():
    doc = read_document(SEED)
    assert doc.title == "Ecuador And Israel Cement Security Alliance As Jerusalem Office Opens"
    assert doc.date == "2025-05-05"
    assert doc.source == "The Rio Times"
    assert doc.text[doc.body_start:].startswith("President Daniel Noboa of Ecuador")
    assert doc.text == SEED.read_text(encoding="utf-8")  # offsets point into the file as stored


def test_plain_article_takes_its_first_line_as_title():
    doc = parse_text("Ad sales boost Time Warner profit\n\nQuarterly profits jumped 76%.", "business/001.txt")
    assert (doc.title, doc.date, doc.source) == ("Ad sales boost Time Warner profit", None, None)
    assert doc.text[doc.body_start:] == "Quarterly profits jumped 76%."


def test_text_starting_with_a_sentence_is_titled_by_file_name():
    doc = parse_text("The council met on Monday. It approved the budget.", "notes/council.txt")
    assert doc.title == "council" and doc.body_start == 0


def test_markdown_heading_is_the_title():
    doc = parse_bytes(b"# Solar Farm Opens\n\nThe farm powers 9,000 homes.\n", "solar.md")
    assert (doc.kind, doc.title) == ("md", "Solar Farm Opens")


@pytest.mark.parametrize("data", [
    "Caf\u00e9 prices rose \u2013 \u201cquoted\u201d.".encode("cp1252"),
    "Caf\u00e9 prices rose \u2013 \u201cquoted\u201d.".encode("utf-16"),
    "\ufeffCaf\u00e9 prices rose \u2013 \u201cquoted\u201d.".encode("utf-8"),
])
def test_cp1252_and_utf16_and_bom_files_are_decoded(data):
    doc = parse_bytes(data, "cafe.txt")
    assert doc.text.endswith("Caf\u00e9 prices rose \u2013 \u201cquoted\u201d.")


@pytest.mark.parametrize("data,name,message", [
    (bytes(range(256)) * 4, "image.txt", "binary"),
    (b"\x81\x8d\x8f\x90\x9d" * 20, "odd.txt", "cannot tell its text encoding"),
    (b"   \n\n ", "empty.txt", "empty"),
    (b"hello", "sheet.xlsx", "unsupported file type"),
])
def test_unreadable_files_are_refused_with_a_reason_naming_the_file(data, name, message):
    with pytest.raises(DocumentError) as err:
        parse_bytes(data, name)
    assert name in str(err.value) and message in str(err.value)


def test_oversized_file_is_refused(tmp_path):
    big = tmp_path / "big.txt"
    big.write_text("word " * 1000)
    with pytest.raises(DocumentError, match="over the 100-byte limit"):
        read_document(big, max_bytes=100)


def test_html_is_reduced_to_text_without_markup_or_scripts():
    html = (b"<html><head><title>Port Deal Signed</title><script>alert('x')</script></head>"
            b"<body><article><h1>Port Deal Signed</h1><p>The port of Manta will host a naval facility, "
            b"officials said on Monday after a long negotiation.</p></article></body></html>")
    doc = parse_bytes(html, "port.html")
    assert doc.title == "Port Deal Signed"
    assert "naval facility" in doc.text
    assert "alert" not in doc.text and "<p>" not in doc.text


def test_directory_load_reports_every_skipped_file(tmp_path):
    (tmp_path / "a.txt").write_text("Title A\n\nBody of A.")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.md").write_text("# Title B\n\nBody of B.")
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "data.csv").write_text("a,b")
    (tmp_path / ".hidden.txt").write_text("Secret\n\nNot indexed.")
    report = load_directory(tmp_path)
    assert [d.path for d in report.documents] == ["a.txt", "sub/b.md"]
    assert {s.path: s.reason for s in report.skipped} == {
        "data.csv": "unsupported file type .csv", "empty.txt": "the file is empty"}


def test_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(DocumentError, match="no such folder"):
        load_directory(tmp_path / "nope")
