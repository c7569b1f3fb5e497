"""Query: a question is cleaned and tokenized once, and every signal reads that one parse."""

from __future__ import annotations

import pytest
from app_support import corpus

from qa import Filter, QueryError
from qa.ranking import lexical, query
from qa.ranking.query import MAX_QUESTION_CHARS, Query


def test_parse_cleans_cuts_and_tokenizes():
    q = Query.parse("  When\tdid formal \x1b[31mdiplomatic relations begin?  " + "x" * 3000)
    assert q.text.startswith("When did formal diplomatic relations begin?") and len(q.text) == MAX_QUESTION_CHARS
    assert q.truncated and q.answer_type == "time"
    assert q.tokens[:4] == ("formal", "diplomat", "relat", "begin")
    assert ("formal", "diplomat") in q.pairs


def test_an_inactive_filter_is_no_filter():
    assert Query.parse("Who?", Filter()).filter is None
    assert Query.parse("Who?", Filter(sources=("BBC",))).filter == Filter(sources=("BBC",))


@pytest.mark.parametrize("bad", ["", "   ", "\x1b[0m\u200b"])
def test_an_empty_question_is_refused_with_a_reason(bad):
    with pytest.raises(QueryError, match="empty"):
        Query.parse(bad)


def test_hybrid_search_tokenizes_its_question_exactly_once(tmp_path, monkeypatch):
    retriever, _ = corpus(tmp_path)
    retriever.search("warm up every structure", k=3)  # builds BM25, answer types, ... over the corpus
    question = "What defense products has Ecuador bought from Israel?"
    calls = []
    real = lexical.tokenize

    def counting(text):
        calls.append(text)
        return real(text)

    # Every caller reaches tokenize through the lexical module, so one patch sees them all.
    monkeypatch.setattr(lexical, "tokenize", counting)
    monkeypatch.setattr(query.lexical, "tokenize", counting)
    result = retriever.search(question, k=3, mode="hybrid")
    assert result.hits
    assert [c for c in calls if c == question] == [question]
    # Candidate sentences are tokenized for word pairs (and cached); the question never again.
    assert all(c != question for c in calls[1:])
