"""Titles, dates and sources of articles: the seed header, dated lines, HTML and PDF metadata.

The rule throughout: a date or source comes from what the article or its file says about
itself, and is ``None`` ("unknown") otherwise; never the file's modification time.
"""

from __future__ import annotations

import io
import os
from datetime import date, datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app_support import pdf_bytes

from qa.documents.loading import load_directory, parse_bytes, parse_text, read_document


def meta(doc):
    return doc.title, doc.date, doc.source


# ------------------------------------------------------------------ titles

@pytest.mark.parametrize("title", [
    "TAIWAN TO SEEK HIGHER TEXTILE EXPORTS TO U.S.", "MERRILL MANDATED FOR IEL U.S. NOTE.",
    "WILL WORLD RECESSION FOLLOW STOCK MARKET PLUNGE?", "COMMODITY RESEARCH BUREAU PRICES INDEX New York,",
    "Noboa visits Jerusalem.",
])
def test_the_line_after_a_seed_date_line_is_the_title_whatever_it_ends_with(title):
    doc = parse_text(f"date 1987-03-02 9\n{title}\n(Reuters)\nTAIPEI, March 2 - Taiwan will seek more.\n", "articles/429.txt")
    assert meta(doc) == (title, "1987-03-02", "Reuters")
    assert doc.text[doc.body_start:].startswith("TAIPEI, March 2")


@pytest.mark.parametrize("title", [
    "Could Yukos be a blessing in disguise?", "Rivals of the \u00a3400 Apple...", "Honda shifts output to U.S.",
    "RANGE ROVER OF NORTH AMERICA INC MARCH SALES.", "Goal!",
])
def test_plain_headlines_ending_in_a_question_ellipsis_or_abbreviation_are_titles(title):
    doc = parse_text(f"{title}\n\nThe body starts here. It goes on.", "business/266.txt")
    assert doc.title == title and doc.text[doc.body_start:] == "The body starts here. It goes on."


@pytest.mark.parametrize("first", [
    "The council met on Monday. It approved the budget.",   # two sentences
    "The council met on Monday and approved the budget.",   # a sentence ending in "."
    "Officials said the following:",
])
def test_a_first_line_that_reads_as_body_text_is_not_a_title(first):
    doc = parse_text(f"{first}\n\nMore text follows.", "notes/council.txt")
    assert doc.title == "council" and doc.body_start == 0


# ------------------------------------------------------------------ dated lines

@pytest.mark.parametrize("line", ["May 5, 2025", "2025-05-05", "5 May 2025", "Monday, 5 May 2025", "Published: 5 May 2025"])
def test_a_dated_first_line_gives_the_date_of_an_upload(line):
    doc = parse_bytes(f"{line}\nPort deal signed\n\nThe port of Manta opened.\n".encode(), "port.txt")
    assert meta(doc) == ("Port deal signed", "2025-05-05", None)
    assert doc.text[doc.body_start:] == "The port of Manta opened.\n"


def test_a_dated_line_right_after_the_title_gives_the_date_too():
    doc = parse_bytes(b"# Port deal signed\n\n*Monday, 5 May 2025*\n\nThe port of Manta opened.\n", "port.md")
    assert meta(doc) == ("Port deal signed", "2025-05-05", None)
    assert doc.text[doc.body_start:].startswith("The port")


@pytest.mark.parametrize("line", ["Tuesday, 5 May 2025", "2025-02-30", "05/06/2025", "May 2025", "Updated May 5, 2025"])
def test_a_first_line_that_is_no_valid_whole_date_gives_no_date(line):
    assert parse_text(f"{line}\nPort deal signed\n\nThe port opened.", "port.txt").date is None


def test_a_date_in_the_body_is_not_taken_for_the_publication_date():
    doc = parse_text("Port deal signed\n\nOn May 4, 2025 the port opened.\nMay 5, 2025\n", "port.txt")
    assert doc.date is None


@pytest.mark.parametrize("header", ["date 2025-02-30 12", "date 0000-00-00 1"])
def test_an_impossible_seed_date_is_unknown_and_the_header_still_read(header):
    doc = parse_text(f"{header}\nTitle Here.\n(MENAFN- The Rio Times) Body.", "a.txt")
    assert meta(doc) == ("Title Here.", None, "The Rio Times")


def test_undated_files_stay_undated_whatever_their_modification_time(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("Port deal signed\n\nThe port opened.\n")
    os.utime(path, (1_746_403_200, 1_746_403_200))  # 2025-05-05
    assert meta(read_document(path)) == ("Port deal signed", None, None)
    assert meta(load_directory(tmp_path).documents[0]) == ("Port deal signed", None, None)


# ------------------------------------------------------------------ datelines

@pytest.mark.parametrize("dateline,source", [("(MENAFN- The Rio Times)", "The Rio Times"), ("(Reuters)", "Reuters"), ("(AP)", "AP")])
def test_a_dateline_naming_a_source_gives_the_source(dateline, source):
    assert parse_text(f"Port deal signed\n\n{dateline} The port opened.", "a.txt").source == source


@pytest.mark.parametrize("remark", ["(after extra-time - score at 90 mins 1-1)", "(12 dead)", "(photo: AFP)"])
def test_a_parenthesised_remark_is_not_a_source(remark):
    doc = parse_text(f"Chelsea clinch cup in extra-time\n\n{remark}\n\nRiise volleyed Liverpool ahead.", "sport/104.txt")
    assert doc.source is None and doc.text[doc.body_start:].startswith(remark)


# ------------------------------------------------------------------ HTML

def html(head: str, body: str = "<p>The port of Manta will host a naval facility, officials said on Monday, May 4, 2025.</p>") -> bytes:
    return f"<html><head><title>Port Deal Signed</title>{head}</head><body><article><h1>Port Deal Signed</h1>{body}</article></body></html>".encode()


def test_html_metadata_gives_date_and_site_name():
    doc = parse_bytes(html('<meta property="og:site_name" content="The Rio Times">'
                           '<meta property="article:published_time" content="2025-05-06T10:00:00Z">'), "port.html")
    assert meta(doc) == ("Port Deal Signed", "2025-05-06", "The Rio Times")


def test_html_without_a_site_name_takes_the_host_name_of_its_url():
    doc = parse_bytes(html('<link rel="canonical" href="https://www.example-news.com/2025/03/02/port-deal">'), "port.html")
    assert (doc.date, doc.source) == ("2025-03-02", "example-news.com")


def test_html_without_metadata_stays_undated_even_when_the_story_mentions_a_date():
    doc = parse_bytes(html(""), "port.html")
    assert (doc.date, doc.source) == (None, None)


def test_html_with_a_nonsense_date_stays_undated():
    doc = parse_bytes(html('<meta property="article:published_time" content="2025-99-99">'
                           '<meta name="date" content="yesterday-ish">'), "port.html")
    assert doc.date is None


# ------------------------------------------------------------------ PDF

def tiny_pdf(lines: list[str], info: dict | None = None, xmp: dict | None = None) -> bytes:
    """A one-page PDF with the lines as real text, and the given metadata."""
    from pypdf import PdfWriter
    from pypdf.xmp import XmpInformation

    out = pdf_bytes(lines)
    writer = PdfWriter(clone_from=io.BytesIO(bytes(out)))
    if info:
        writer.add_metadata(info)
    if xmp:
        packet = XmpInformation.create()
        for key, value in xmp.items():
            setattr(packet, key, value)
        writer.xmp_metadata = packet
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


LINES = ["Port Deal Signed", "The port of Manta will host a naval facility, officials said."]


def test_pdf_creation_date_gives_the_date_and_author_or_producer_are_not_a_source():
    data = tiny_pdf(LINES, info={"/CreationDate": "D:20250506101500+02'00'", "/ModDate": "D:20260101000000Z",
                                 "/Author": "Jane Reporter", "/Producer": "Microsoft Word", "/Creator": "Word"})
    doc = parse_bytes(data, "port.pdf")
    assert (doc.kind, doc.title, doc.date, doc.source) == ("pdf", "Port Deal Signed", "2025-05-06", None)


def test_pdf_publisher_in_its_metadata_is_the_source():
    doc = parse_bytes(tiny_pdf(LINES, info={"/Publisher": "The Rio Times"}), "port.pdf")
    assert (doc.date, doc.source) == (None, "The Rio Times")


def test_pdf_xmp_publication_date_and_publisher_come_first():
    data = tiny_pdf(LINES, info={"/CreationDate": "D:20250601000000Z"},
                    xmp={"dc_date": [datetime(2025, 5, 5, tzinfo=timezone.utc)], "dc_publisher": ["The Rio Times"]})
    doc = parse_bytes(data, "port.pdf")
    assert (doc.date, doc.source) == ("2025-05-05", "The Rio Times")


@pytest.mark.parametrize("value", ["D:garbage", "D:20251399999999", "D:00000101000000Z", "not a date at all", ""])
def test_pdf_with_a_malformed_creation_date_loads_undated(value):
    doc = parse_bytes(tiny_pdf(LINES, info={"/CreationDate": value}), "port.pdf")
    assert doc.date is None and "naval facility" in doc.text


def test_pdf_text_dated_line_beats_its_creation_date():
    # A PDF's creation date is often the day it was printed; a date on the page is the story's.
    data = tiny_pdf(["May 5, 2025", *LINES], info={"/CreationDate": "D:20260101000000Z"})
    doc = parse_bytes(data, "port.pdf")
    assert (doc.title, doc.date) == ("Port Deal Signed", "2025-05-05")


def test_pdf_without_metadata_is_undated_and_unsourced():
    assert (lambda d: (d.date, d.source))(parse_bytes(tiny_pdf(LINES), "port.pdf")) == (None, None)


@settings(max_examples=200, deadline=None)
@given(first=st.text(max_size=40) | st.sampled_from(["date 2025-02-30 1", "date 9999-99-99", "Monday, 31 February 2025",
                                                      "(MENAFN- )", "()", "# ", "May 5, 2025", "0000-00-00"]),
       second=st.text(max_size=40))
def test_no_first_lines_make_loading_raise_and_dates_are_real_days_or_none(first, second):
    doc = parse_text(f"{first}\n{second}\n\nBody text.", "a.txt")
    assert doc.date is None or date.fromisoformat(doc.date)
    assert 0 <= doc.body_start <= len(doc.text)
