"""Conversation logic: follow-up questions are read in the context of the earlier ones."""

from __future__ import annotations

import pytest
from app_support import DISTRACTOR, HOSTAGE_SENTENCES, SEED_DOC, corpus

from qa import QueryError
from qa.conversation import ask, is_follow_up


@pytest.fixture(scope="session")
def seed(tmp_path_factory):
    retriever, _ = corpus(tmp_path_factory.mktemp("chat-seed"))
    return retriever


@pytest.fixture(scope="session")
def two_presidents(tmp_path_factory):
    retriever, _ = corpus(tmp_path_factory.mktemp("chat-two"), {"colombia.txt": DISTRACTOR})
    return retriever


@pytest.mark.parametrize("question", [
    "What did he say about the hostages?", "Where did she go?", "Why did they meet?", "What is its budget?",
    "When was that?", "Tell me more about that.", "And Israel?", "What about the drones?", "Why?", "Who else?",
])
def test_questions_leaning_on_the_conversation_are_follow_ups(question):
    assert is_follow_up(question)


@pytest.mark.parametrize("question", [
    "Who is the president of Ecuador?", "When did formal diplomatic relations begin?",
    "What did Noboa say about peace?", "What is the company that sold drones to Ecuador?",
])
def test_self_contained_questions_are_not_follow_ups(question):
    assert not is_follow_up(question)


def test_first_question_is_searched_as_asked(seed):
    turn = ask(seed, "Who is the president of Ecuador?")
    assert turn.follow_up_of is None
    assert turn.searched == ("Who is the president of Ecuador?",)
    assert turn.result.found
    assert "President Daniel Noboa of Ecuador" in turn.result.hits[0].text


def test_he_after_the_president_question_finds_the_hostage_sentences(seed):
    first = ask(seed, "Who is the president of Ecuador?")
    follow = ask(seed, "What did he say about the hostages?", previous=first)
    assert follow.follow_up_of == "Who is the president of Ecuador?"
    assert follow.result.found
    assert {h.text for h in follow.result.hits[:2]} == set(HOSTAGE_SENTENCES)
    assert {h.sentence.number for h in follow.result.hits[:2]} == {24, 25}


def test_follow_up_stays_with_the_conversations_article_over_a_similar_sentence_elsewhere(two_presidents):
    # Alone, the question's best match is the Colombian sentence "He said ... the hostages".
    alone = two_presidents.search("What did he say about the hostages?", k=1)
    assert alone.hits[0].sentence.doc == "colombia.txt"
    first = ask(two_presidents, "Who is the president of Ecuador?")
    follow = ask(two_presidents, "What did he say about the hostages?", previous=first)
    assert follow.result.hits[0].sentence.doc == SEED_DOC
    assert follow.result.hits[0].text in HOSTAGE_SENTENCES


def test_follow_up_after_another_subject_follows_that_subject(two_presidents):
    first = ask(two_presidents, "Who is the president of Colombia?")
    follow = ask(two_presidents, "What did he say about the hostages?", previous=first)
    assert follow.result.hits[0].sentence.doc == "colombia.txt"
    assert "negotiate the release of the hostages" in follow.result.hits[0].text


def test_follow_up_the_documents_cannot_answer_is_not_found(seed):
    first = ask(seed, "Who is the president of Ecuador?")
    follow = ask(seed, "How old is he?", previous=first)
    assert follow.follow_up_of is not None
    assert not follow.result.found


def test_chain_of_follow_ups_keeps_the_original_subject(seed):
    first = ask(seed, "Who is the president of Ecuador?")
    second = ask(seed, "What did he say about the hostages?", previous=first)
    third = ask(seed, "And what did he say about strength?", previous=second)
    assert third.follow_up_of.split("\n") == ["Who is the president of Ecuador?", "What did he say about the hostages?"]
    assert 'peace must sometimes be attained through strength' in third.result.hits[0].text


def test_context_is_the_opening_question_and_the_one_before(seed):
    turn = ask(seed, "Who is the president of Ecuador?")
    for question in ("What did he say about the hostages?", "And about strength?", "And about drones?"):
        turn = ask(seed, question, previous=turn)
    assert turn.follow_up_of.split("\n") == ["Who is the president of Ecuador?", "And about strength?"]
    # and the name the first answer gave stays in what is searched, however long the chain
    assert "Daniel Noboa" in turn.searched[1]


def test_new_self_contained_question_ignores_the_conversation(seed):
    first = ask(seed, "Who is the president of Ecuador?")
    turn = ask(seed, "When did formal diplomatic relations begin?", previous=first)
    assert turn.follow_up_of is None
    assert turn.result.hits[0].text == "Formal diplomatic relations began in 1949."


def test_follow_up_answers_have_k_hits_ranked_from_one(seed):
    first = ask(seed, "Who is the president of Ecuador?")
    follow = ask(seed, "What did he say about the hostages?", previous=first, k=4)
    assert [h.rank for h in follow.result.hits] == [1, 2, 3, 4]
    assert len({(h.sentence.doc, h.sentence.start) for h in follow.result.hits}) == 4


def test_turn_lists_the_documents_it_cites_once_each(seed):
    turn = ask(seed, "Who is the president of Ecuador?", k=5)
    assert turn.documents == (SEED_DOC,)


def test_empty_question_is_refused_with_a_readable_error(seed):
    with pytest.raises(QueryError, match="empty"):
        ask(seed, "  \n ")
    first = ask(seed, "Who is the president of Ecuador?")
    with pytest.raises(QueryError, match="empty"):
        ask(seed, "\t", previous=first)


def test_a_long_conversation_keeps_its_subject_past_two_turns(tmp_path):
    retriever, _ = corpus(tmp_path, {"colombia.txt": DISTRACTOR})
    turns = []
    for q in ("Who is the president of Ecuador?", "What did he say about the hostages?",
              "What did he tell Herzog about defense?", "Who was in his delegation?"):
        turns.append(ask(retriever, q, turns[-1] if turns else None))
    last = turns[-1]
    assert last.follow_up_of.splitlines()[0] == "Who is the president of Ecuador?"  # the opening question stays
    assert any("Noboa" in name for name in last.subject.names)
    assert last.result.hits[0].text.startswith("Noboa's delegation included")


def test_a_standalone_question_starts_a_new_subject(tmp_path):
    retriever, _ = corpus(tmp_path)
    first = ask(retriever, "Who is the president of Ecuador?")
    second = ask(retriever, "When did formal diplomatic relations begin?", first)
    assert second.follow_up_of is None and second.subject.opening == "When did formal diplomatic relations begin?"


def test_a_long_conversation_never_cuts_the_follow_up_itself(seed):
    first = ask(seed, "Who is the president of Ecuador? " + "Tell me everything about the visit. " * 60)
    turn = ask(seed, "What did he say about the hostages?", previous=first)
    assert turn.searched[1].endswith("What did he say about the hostages?")
