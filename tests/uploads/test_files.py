"""Uploads: a good file is saved and answerable at once; a bad one changes nothing."""

from __future__ import annotations

import pytest
from app_support import SEED_DOC, SEEDS, corpus, folder_state, pdf_bytes

from qa import DocumentError
from qa.uploads import add_upload, remove_document, safe_name

ARTICLE = b"Solar Farm Opens In Quito\n\nThe new solar farm near Quito powers 9,000 homes. It cost 40 million dollars.\n"


@pytest.fixture
def library(tmp_path):
    return corpus(tmp_path)


def test_upload_is_saved_indexed_and_answerable_at_once(library):
    retriever, docs = library
    doc = add_upload(retriever, docs, ARTICLE, "solar.txt")
    assert (docs / "solar.txt").read_bytes() == ARTICLE
    assert doc.title == "Solar Farm Opens In Quito"
    hit = retriever.search("How many homes does the solar farm power?", k=1).hits[0]
    assert (hit.sentence.doc, hit.text) == ("solar.txt", "The new solar farm near Quito powers 9,000 homes.")


def test_upload_survives_a_restart(library, tmp_path):
    retriever, docs = library
    add_upload(retriever, docs, ARTICLE, "solar.txt")
    reopened = type(retriever).from_directory(docs, index_dir=tmp_path / "index", embedder=retriever.embedder)
    assert {d.path for d in reopened.documents} == {SEED_DOC, "solar.txt"}


@pytest.mark.parametrize("data, name, reason", [
    (b"\x00\x01\x02binary\x00" * 50, "blob.txt", "binary"),
    (b"   \n\t ", "empty.txt", "empty"),
    (b"MZ\x90\x00", "tool.exe", "unsupported file type .exe"),
    (ARTICLE, "noext", "unsupported file type (none)"),
    (ARTICLE, "../../escape.txt", "folders or '..'"),
    (ARTICLE, "..\\escape.txt", "folders or '..'"),
    (ARTICLE, "/etc/cron.d/x.txt", "folders or '..'"),
    (ARTICLE, ".hidden.txt", "hidden"),
    (ARTICLE, "bad\x00name.txt", "control characters"),
    (ARTICLE, "a" * 200 + ".txt", "over 150 characters"),
    (ARTICLE, SEED_DOC, "already exists"),
    (ARTICLE, SEED_DOC.upper(), "already exists"),
    (b"%PDF-1.4 this is not really a pdf", "fake.pdf", "not a readable PDF"),
])
def test_bad_upload_is_refused_with_a_reason_and_changes_nothing(library, data, name, reason):
    retriever, docs = library
    before_files, before_docs = folder_state(docs), retriever.documents
    with pytest.raises(DocumentError, match=reason.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        add_upload(retriever, docs, data, name)
    assert folder_state(docs) == before_files
    assert retriever.documents == before_docs


def test_upload_over_the_size_limit_is_refused(library):
    retriever, docs = library
    before = folder_state(docs)
    with pytest.raises(DocumentError, match="over the 1,000-byte upload limit"):
        add_upload(retriever, docs, b"Big Story\n\n" + b"Words here. " * 200, "big.txt", max_bytes=1000)
    assert folder_state(docs) == before


def test_same_text_under_another_name_is_refused(library):
    retriever, docs = library
    before = folder_state(docs)
    with pytest.raises(DocumentError, match=f"same text is already indexed as {SEED_DOC}"):
        add_upload(retriever, docs, (SEEDS / SEED_DOC).read_bytes(), "copy.txt")
    assert folder_state(docs) == before


def test_html_and_markdown_uploads_are_read_by_type(library):
    retriever, docs = library
    page = b"<html><head><title>Port Expansion Approved</title></head><body><article><p>The port of Manta will double " \
           b"its container capacity by 2027.</p><script>alert(1)</script></article></body></html>"
    doc = add_upload(retriever, docs, page, "port.html")
    assert doc.kind == "html" and "alert" not in doc.text
    md = add_upload(retriever, docs, b"# Coffee Prices Climb\n\nArabica rose 4% on Monday.\n", "coffee.md")
    assert md.title == "Coffee Prices Climb"
    assert retriever.search("How much did arabica rise?", k=1).hits[0].sentence.doc == "coffee.md"




def test_pdf_upload_is_read_and_answerable(library):
    retriever, docs = library
    doc = add_upload(retriever, docs, pdf_bytes(["Wind Farm Approved", "The council approved a wind farm with 40 turbines."]),
                     "wind.pdf")
    assert (doc.kind, doc.title) == ("pdf", "Wind Farm Approved")
    hit = retriever.search("How many turbines will the wind farm have?", k=1).hits[0]
    assert (hit.sentence.doc, hit.text) == ("wind.pdf", "The council approved a wind farm with 40 turbines.")


def test_safe_name_keeps_ordinary_names():
    assert safe_name(" Report 2025 (final).PDF ") == "Report 2025 (final).PDF"
    assert safe_name("café.md") == "café.md"


def test_removing_a_document_deletes_its_file_and_its_sentences(library):
    retriever, docs = library
    add_upload(retriever, docs, ARTICLE, "solar.txt")
    remove_document(retriever, docs, "solar.txt")
    assert not (docs / "solar.txt").exists()
    assert [d.path for d in retriever.documents] == [SEED_DOC]
    assert all(h.sentence.doc == SEED_DOC for h in retriever.search("solar farm homes", k=5).hits)


@pytest.mark.parametrize("name", ["missing.txt", "../docs/" + SEED_DOC, "", "/etc/passwd"])
def test_removing_something_not_indexed_is_refused_and_changes_nothing(library, name):
    retriever, docs = library
    before = folder_state(docs)
    with pytest.raises(DocumentError):
        remove_document(retriever, docs, name)
    assert folder_state(docs) == before and len(retriever.documents) == 1
