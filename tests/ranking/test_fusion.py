"""Fusion: the signals of the hybrid ranking, each shown deciding a ranking on its own."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from qa.ranking.answertype import AnswerTypes, asked_type
from qa.ranking.forms import SentenceForms, is_question, refers_back
from qa.ranking.lexical import tokenize
from app_support import corpus


@pytest.mark.parametrize("question, kind", [
    ("When did formal diplomatic relations begin?", "time"),
    ("How many Ecuadorians took part?", "number"),
    ("How long have they had relations?", "duration"),
    ("Why did the talks fail?", "cause"),
    ("What is causing the surge in violence in Ecuador?", "cause"),
    ("What was the main reason for the strike?", "cause"),
    ("Who is the president of Ecuador?", None),
])
def test_questions_are_typed_by_what_they_ask_for(question, kind):
    assert asked_type(question) == kind


def test_sentences_holding_a_cause_are_marked():
    types = AnswerTypes(["This surge stems from drug trafficking routes.", "The rally was held because of the vote.",
                         "The visit lasted two days."])
    assert types.cause.tolist() == [True, True, False]
    assert types.match(asked_type("What is causing the surge?"), np.array([0, 2])).tolist() == [1.0, 0.0]


def test_question_words_are_stopwords():
    assert tokenize("What did the scholarship participants train in?") == ["scholarship", "particip", "train"]
    assert tokenize("Who won the cup?") == ["won", "cup"]


def test_sentence_forms():
    forms = SentenceForms(["What happened in 1986?", '"Why not?" he asked.', "Herzog called it a step.",
                           "Ecuador opened an office."])
    assert forms.question.tolist() == [True, False, False, False]
    assert forms.refers_back.tolist() == [False, True, True, False]
    assert is_question('Was it "over?"') and not refers_back("Theirs and ithaca are words, not pronouns.")


def test_a_sentence_that_points_back_counts_the_words_of_the_one_before(tmp_path, monkeypatch):
    retriever, _ = corpus(tmp_path)
    question = "What fields did the scholarship participants train in?"
    assert retriever.search(question, k=1).hits[0].text.startswith("They received training in agriculture")
    # Without the sentence before, the one naming the programme wins: the test can fail.
    monkeypatch.setattr(retriever._features, "_forms", SentenceForms([""] * len(retriever)))
    assert retriever.search(question, k=1).hits[0].text.startswith("Around 5,000 Ecuadorian professionals")


ARSENAL = """date 2005-01-10 5
Wenger looks back on a long season
Arsenal manager Arsene Wenger says the club must learn from its past.
What went wrong for Arsenal in 1986? Injuries to three strikers in March left the side without goals, and it finished seventh.
"We will not let that happen again," he said.
"""


def test_a_sentence_that_is_a_question_is_not_the_answer(tmp_path):
    retriever, _ = corpus(tmp_path, {"sport.txt": ARSENAL})
    question = "What happened to Arsenal in 1986?"
    assert retriever.search(question, k=1).hits[0].text.startswith("Injuries to three strikers")
    retriever.fusion = replace(retriever.fusion, weights=replace(retriever.fusion.weights, question_sentence=0.0))
    assert retriever.search(question, k=1).hits[0].text == "What went wrong for Arsenal in 1986?"
