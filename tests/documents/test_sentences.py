"""Sentences: exact offsets, and the hard cases of news text."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from qa.documents.loading import parse_text, read_document
from qa.documents.sentences import split_document
from qa.store.corpus import Corpus, spans_array


def sentences(doc):
    """The document's sentences with provenance, as the corpus gives them to hits."""
    corpus = Corpus((doc,), spans_array(0, split_document(doc)))
    return [corpus.sentence(row) for row in range(len(corpus))]
from app_support import SEEDS, SEED_DOC

SEED = SEEDS / SEED_DOC


def texts(body: str, title: str = "A Title") -> list[str]:
    return [s.text for s in sentences(parse_text(f"{title}\n\n{body}", "t.txt"))]


def test_quotes_stay_with_their_sentence():
    assert texts('Herzog welcomed Noboa, praising him as "a great friend." He also spoke.') == [
        'Herzog welcomed Noboa, praising him as "a great friend."', "He also spoke."]


def test_abbreviations_do_not_end_sentences():
    assert texts("Dr. Smith flew to the U.S. on Jan. 5 to meet Mr. Jones. They talked.") == [
        "Dr. Smith flew to the U.S. on Jan. 5 to meet Mr. Jones.", "They talked."]


def test_numbers_with_points_and_commas_do_not_end_sentences():
    assert texts("Profits rose to $1.13bn (\u00a3600m) as 5,000 staff joined. Shares rose 2.5%.") == [
        "Profits rose to $1.13bn (\u00a3600m) as 5,000 staff joined.", "Shares rose 2.5%."]


def test_seed_subheading_is_its_own_paragraph_and_marked():
    doc = read_document(SEED)
    heads = [s for s in sentences(doc) if s.heading]
    assert [h.text for h in heads] == ["Ecuador-Israel Relations Strengthen with Diplomatic Visit"]
    after = sentences(doc)[heads[0].number]
    assert after.paragraph == heads[0].paragraph + 1


def test_paragraph_breaks_split_and_number_paragraphs():
    doc = parse_text("T\n\nFirst para one. First para two.\n\nSecond para", "t.txt")
    assert [(s.text, s.paragraph) for s in sentences(doc)] == [
        ("First para one.", 1), ("First para two.", 1), ("Second para", 2)]


def test_seed_sentences_carry_provenance():
    doc = read_document(SEED)
    ss = sentences(doc)
    assert len(ss) == 27
    first = ss[0]
    assert (first.doc, first.title, first.source, first.date) == (
        "000_efff323ac530a1c5.txt", doc.title, "The Rio Times", "2025-05-05")
    assert (first.number, first.total, first.paragraph) == (1, 27, 1)
    assert first.text.startswith("President Daniel Noboa") and first.text.endswith("both governments.")


def test_run_without_punctuation_is_cut_at_spaces():
    body = " ".join(["word"] * 600) + "."
    ss = texts(body)
    assert len(ss) > 1 and all(len(s) <= 1000 for s in ss)


_alphabet = st.sampled_from(list("abc XYZ.,!?\"'()\n\t\u00e9\u201c\u201d0123456789$%-") + ["Dr. ", "U.S. ", "\n\n", "\r\n"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_alphabet, max_size=200).map("".join), st.booleans())
def test_offsets_always_point_at_the_sentence_text(text, with_header):
    if with_header:
        text = f"date 2025-01-01 7\nHeadline\n(MENAFN- Wire) {text}"
    doc = parse_text(text, "p.txt")
    spans = split_document(doc)
    last_end = doc.body_start
    for span in spans:
        piece = doc.text[span.start:span.end]
        assert piece == piece.strip() and piece
        assert span.start >= last_end  # in order, never overlapping
        last_end = span.end
    for s in sentences(doc):
        assert doc.text[s.start:s.end] == s.text
