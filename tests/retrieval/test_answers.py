"""Answer phrases: the part of a quoted sentence that answers the question, by its kind."""

from __future__ import annotations

import pytest
from app_support import corpus

from qa.retrieval.answers import SHOWN_KINDS, answer_phrase, asked_kind


@pytest.mark.parametrize("question, sentence, phrase", [
    ("When did formal diplomatic relations begin?", "Formal diplomatic relations began in 1949.", "1949"),
    ("When did he visit Jerusalem?", "Noboa visited Jerusalem on May 4, 2025, officials said.", "May 4, 2025"),
    ("How much have the directors agreed to pay?", "The directors agreed to pay $168m (£89m) on Friday.", "$168m (£89m)"),
    ("At what price did the shares close?", "The shares closed at 1130p, up 4%.", "1130p"),
    ("By how much has the market fallen?", "It has fallen about 5% since the weekend.", "5%"),
    ("How long will the field keep producing?", "It can keep producing for more than 25 years.", "25 years"),
])
def test_the_phrase_of_the_asked_kind_is_found(question, sentence, phrase):
    span = answer_phrase(sentence, question)
    assert span is not None and sentence[span[0]:span[1]] == phrase


def test_a_phrase_the_question_already_names_is_skipped():
    assert answer_phrase("What happened in 2019? In 2019, Israel helped.", "What happened in 2019?") is None
    sentence = "In 2019 the deal, signed in 2021, took effect."
    span = answer_phrase(sentence, "When did the 2019 deal take effect?")
    assert sentence[span[0]:span[1]] == "2021"


def test_kinds_not_right_often_enough_are_not_shown():
    assert asked_kind("Who is the president of Ecuador?") == "person" and "person" not in SHOWN_KINDS
    assert answer_phrase("President Daniel Noboa of Ecuador visited.", "Who is the president of Ecuador?") is None
    assert asked_kind("How many homes does it power?") == "number" and "number" not in SHOWN_KINDS


def test_hits_carry_the_answer_phrase_as_document_offsets(tmp_path):
    retriever, _ = corpus(tmp_path)
    hit = retriever.search("When did formal diplomatic relations begin?", k=1).hits[0]
    doc = retriever.document(hit.sentence.doc)
    assert hit.answer_type == "date" and doc.text[hit.answer[0]:hit.answer[1]] == hit.answer_text == "1949"
    assert hit.sentence.start <= hit.answer[0] < hit.answer[1] <= hit.sentence.end
    assert retriever.search("Who is the president of Ecuador?", k=1).hits[0].answer is None
