"""The text renderer: what `qa ask` prints and "copy as Markdown" copies — verbatim numbered
quotes, a citation per hit (title, source, date, place), and Markdown that renders as meant."""

from __future__ import annotations

import dataclasses
import re

import pytest

from qa import Filter, SearchResult
from qa.conversation import ask
from qa.render.citation import quoted
from qa.render.text import escape_markdown, format_result

TITLE = "Ecuador And Israel Cement Security Alliance As Jerusalem Office Opens"


@pytest.fixture(scope="module")
def president(seed):
    return seed.search("Who is the president of Ecuador?", k=3)


def _markdown(text: str) -> str:
    return pytest.importorskip("markdown_it").MarkdownIt("commonmark").render(text)


def test_answer_quotes_each_sentence_verbatim_then_cites_it(president):
    out = format_result(president)
    lines = out.splitlines()
    assert lines[0] == "The articles say:"
    for hit in president.hits:
        assert f"> [{hit.rank}] {quoted(hit.text)}" in lines
        s = hit.sentence
        assert (f"- [{hit.rank}] {TITLE} · The Rio Times · 2025-05-05 — sentence {s.number} of 27, paragraph "
                f"{s.paragraph}; {s.doc}, chars {s.start}-{s.end}; ") in out
    assert out.index("> [3]") < out.index("Sources:") < out.index("- [1]")
    assert "strong match, score" in out


def test_not_found_says_so_first_and_marks_every_sentence_possibly_related(seed):
    result = seed.search("What is the capital of France?", k=2)
    assert not result.found
    out = format_result(result)
    assert out.startswith("**The documents do not answer this question.**")
    assert "The articles say" not in out and " match, " not in out
    assert "Possibly related — nearest sentences, not an answer:" in out
    for hit in result.hits:
        assert f"- [{hit.rank}] {quoted(hit.text)} — {TITLE}" in out


def test_empty_index_and_empty_filter_say_what_to_do():
    empty = SearchResult("Anything?", (), False, 0.0, "hybrid")
    assert format_result(empty) == "No documents are indexed yet: add articles to the documents folder, then ask again."
    filtered = dataclasses.replace(empty, filter=Filter(until="2001-01-01"))
    assert format_result(filtered).splitlines() == ["_Searched only articles matching: until 2001-01-01._", "",
                                                    "No indexed article matches the filter."]


def test_follow_up_and_long_question_notes_come_first(seed):
    first = ask(seed, "Who is the president of Ecuador?")
    turn = ask(seed, "What did he say about the hostages?", previous=first)
    out = format_result(dataclasses.replace(turn.result, truncated=True), turn.follow_up_of)
    assert out.splitlines()[:2] == ["_Read as a follow-up to “Who is the president of Ecuador?”._",
                                    "_The question was long, so only its first 2,000 characters were searched._"]


def test_a_sentence_in_two_articles_names_the_other(with_copy):
    hit = with_copy.search("When did formal diplomatic relations begin?", k=1).hits[0]
    assert len(hit.sources) == 2
    other = next(src.title for src in hit.sources if src.doc != hit.sentence.doc)
    assert format_result(with_copy.search("When did formal diplomatic relations begin?", k=1)).endswith(f"; also in {other}")


def test_as_markdown_the_quotes_are_one_block_quote_and_the_citations_one_list(president):
    rendered = _markdown(format_result(president, escape=True))
    quote = re.search(r"<blockquote>(.*?)</blockquote>", rendered, re.S).group(1)
    assert quote.count("<p>") == len(president.hits)  # each sentence its own paragraph, not run together
    assert rendered.count("<li>") == len(president.hits)
    assert rendered.count("<blockquote>") == 1 and rendered.count("<ul>") == 1


def test_escaped_text_shows_document_markup_as_typed_in_markdown(seed):
    result = seed.search("What did the mayor say would never run?", k=3)
    hostile = next(h for h in result.hits if h.sentence.doc == "hostile.md")
    assert f"“{hostile.text}”" in format_result(result)  # verbatim by default, for terminals
    rendered = _markdown(format_result(result, escape=True))
    assert "<script" not in rendered and "<img" not in rendered
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in rendered
    costs = _markdown(escape_markdown("Costs rose by $5 and $6 *twice* in __May__ [x](y) & &amp;"))
    assert costs == "<p>Costs rose by $5 and $6 *twice* in __May__ [x](y) &amp; &amp;amp;</p>\n"


def test_copy_text_says_the_verdict_and_leaves_the_numbers_out(president, seed):
    out = format_result(president, escape=True, threshold=0.635, scores=False)
    assert out.startswith("**Answers the question.**") and "score" not in out and "chars " not in out
    assert f"- [1] {TITLE} · The Rio Times · 2025-05-05 — sentence" in out
    unanswered = format_result(seed.search("What is the capital of France?", k=2), threshold=0.635, scores=False)
    assert unanswered.startswith("**Related only — not an answer.**") and "similarity" not in unanswered
