"""The chat's HTML: verbatim numbered quotes, complete citations, escaped text, exact highlights."""

from __future__ import annotations

import dataclasses
import html
import re

import pytest
from app_support import SEED_DOC

from qa import Filter
from qa.render import html as render
from qa.render.citation import best_score, quoted, verdict
from qa.retrieval import SearchResult


@pytest.fixture(scope="session")
def president(seed):
    return seed.search("Who is the president of Ecuador?", k=3)


def _text(fragment: str) -> str:
    """What a reader sees: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def test_answer_quotes_the_best_sentences_verbatim_numbered_from_one(president):
    out = render.answer_html(president)
    for hit in president.hits:
        assert f"[{hit.rank}]</a> {html.escape(quoted(hit.text))}" in out
    assert [h.rank for h in president.hits] == [1, 2, 3]
    assert "President Daniel Noboa of Ecuador" in _text(out)


def test_each_citation_names_article_source_date_and_place_with_its_score_only_on_hover(president):
    hit = president.hits[0]
    card = render.citation_html(hit, best_score(president))
    text = _text(card)
    assert "Ecuador And Israel Cement Security Alliance As Jerusalem Office Opens" in text
    assert "The Rio Times" in text and "2025-05-05" in text
    assert f"sentence {hit.sentence.number} of 27, paragraph {hit.sentence.paragraph}" in text
    assert "score" not in text and "match" not in text  # the answer's verdict is the one measure shown
    assert f'title="retrieval score {hit.score:.2f}' in card


def test_citation_shows_neighbouring_sentences_with_the_cited_one_highlighted(seed):
    hit = seed.search("He expressed support for the return of all hostages held by Hamas.", k=1).hits[0]
    card = render.citation_html(hit, hit.score)
    assert hit.context_before.startswith("Both leaders also addressed")
    assert f"{html.escape(hit.context_before)}<mark>{html.escape(hit.text)}</mark>" in card


def test_citation_links_open_the_article_at_that_sentence(president):
    hit = president.hits[0]
    assert f'href="{render.source_ref(hit)}"' in render.citation_html(hit, hit.score)
    assert render.parse_source_ref(render.source_ref(hit)) == (SEED_DOC, hit.sentence.start)


def test_not_found_answer_says_plainly_the_documents_do_not_answer(seed):
    result = seed.search("What is the capital of France?", k=2)
    assert not result.found
    out = render.answer_html(result)
    text = _text(out)
    assert text.index("The documents do not answer this question.") < text.index("Possibly related")
    assert "The articles say" not in text
    assert out.count("· possibly related") == 2
    assert "Related only — not an answer" in text and "similarity" not in text
    assert "match ·" not in text  # no "strong match" label on a non-answer


def test_empty_index_answer_says_to_add_documents():
    result = SearchResult("Anything?", (), False, 0.0, "hybrid")
    assert "No documents are indexed yet" in render.answer_html(result)


def test_filtered_answer_says_which_articles_it_was_limited_to(seed):
    none = seed.search("Who is the president of Ecuador?", filter=Filter(since="2030-01-01"))
    out = render.answer_html(none)
    assert "Filtered: since 2030-01-01." in out and "No indexed article matches the filter." in out
    assert "No documents are indexed yet" not in out
    some = seed.search("Who is the president of Ecuador?", k=1, filter=Filter(sources=("The Rio Times",)))
    assert "Filtered: source The Rio Times." in render.answer_html(some)


def test_follow_up_answer_says_which_question_it_was_read_after(president):
    out = render.answer_html(president, follow_up_of="Who is the president of Ecuador?\nAnd <b>him</b>?")
    assert "Read as a follow-up to “Who is the president of Ecuador?” / “And &lt;b&gt;him&lt;/b&gt;?”" in out


def test_answer_is_one_html_block_so_markdown_leaves_it_alone(seed):
    for question in ("Who is the president of Ecuador?", "What did the mayor say?", "What is the capital of France?"):
        out = render.answer_html(seed.search(question, k=5))
        assert "\n" not in out


def test_document_markup_is_shown_as_text_never_run(seed):
    result = seed.search("What did the mayor say would never run?", k=3)
    assert result.hits[0].sentence.doc == "hostile.md"
    doc = seed.document("hostile.md")
    for out in (render.answer_html(result), render.article_html(doc, result.hits)):
        assert "<script" not in out and "<img" not in out and "onerror=\"" not in out
        assert "&lt;script&gt;" in out


def test_article_view_is_the_whole_text_with_exact_highlights(seed, president):
    doc = seed.document(SEED_DOC)
    focus = president.hits[1].sentence.start
    out = render.article_html(doc, president.hits, focus=focus, note="Highlighted: <cited>")
    body = out.split('<div class="qa-article-text">', 1)[1]
    # Dropping the [n] markers and tags gives back the article exactly, from its body on.
    assert _text(re.sub(r'<sup class="qa-hl-n">\[\d+\]</sup>', "", body)) == doc.text[doc.body_start:]
    marked = re.findall(r'<mark class="([^"]+)"><sup class="qa-hl-n">\[(\d+)\]</sup>(.*?)</mark>', body)
    assert sorted(html.unescape(t) for _, _, t in marked) == sorted(h.text for h in president.hits)
    assert [cls for cls, _, t in marked if html.unescape(t) == president.hits[1].text] == ["qa-hl qa-focus"]
    assert "Highlighted: &lt;cited&gt;" in out


def test_article_view_ignores_hits_from_other_articles(seed):
    result = seed.search("What did the mayor say would never run?", k=5)
    doc = seed.document(SEED_DOC)
    out = render.article_html(doc, result.hits)
    others = [h for h in result.hits if h.sentence.doc != SEED_DOC]
    assert others and out.count("<mark") == len(result.hits) - len(others)


def test_typed_question_is_shown_literally():
    out = render.question_html("Is <b>this</b> *bold* or ![x](http://evil/)?")
    assert "<b>" not in out and "&lt;b&gt;" in out
    assert r"\*bold\*" in out and r"\!\[x\]" in out


@pytest.mark.parametrize("ref", ["", "#source/", "#source/x.txt/", "#source/x.txt/-1", "javascript:alert(1)",
                                 "#doc/x.txt", None, 5])
def test_malformed_source_links_are_rejected(ref):
    assert render.parse_source_ref(ref) is None


def test_source_links_survive_odd_file_names():
    ref = f"{render.REF_PREFIX}{'sub%2Fa%20b%23%3F.txt'}/12"
    assert render.parse_source_ref(ref) == ("sub/a b#?.txt", 12)


def test_one_verdict_from_found_and_confidence_and_the_numbers_only_in_a_closed_details(president, seed):
    threshold = 0.635
    out = render.answer_html(president, threshold=threshold)
    key = verdict(president.found, president.confidence, threshold)
    assert key == "answers" and '<p class="qa-verdict qa-verdict-answers">Answers the question</p>' in out
    numbers = re.search(r'<details class="qa-scores">(.*?)</details>', out).group(1)
    assert f"answer confidence {president.confidence:.2f} (found from 0.64)" in numbers
    shown = _text(out.replace(numbers, ""))
    assert "score" not in shown.lower() and "similarity" not in shown
    near = dataclasses.replace(president, confidence=threshold + 0.01)
    assert "May answer the question" in render.answer_html(near, threshold=threshold)
    assert "Related only" in render.answer_html(seed.search("What is the capital of France?", k=2), threshold=threshold)


def test_the_answer_phrase_is_marked_inside_its_sentence(president):
    hit = president.hits[0]
    start = hit.sentence.start + hit.text.index("Daniel Noboa")
    marked = dataclasses.replace(hit, answer=(start, start + len("Daniel Noboa")))
    result = dataclasses.replace(president, hits=(marked,))
    out = render.answer_html(result)
    assert '<mark class="qa-answer-phrase">Daniel Noboa</mark>' in out
    assert out.count("qa-answer-phrase") == 2  # the quote and the card
    assert "President Daniel Noboa of Ecuador" in _text(out)
    assert "qa-answer-phrase" not in render.answer_html(president)  # no span: nothing marked
    outside = dataclasses.replace(hit, answer=(0, 10**6))
    assert "qa-answer-phrase" not in render.answer_html(dataclasses.replace(president, hits=(outside,)))


def test_a_when_answer_says_which_day_on_sunday_was(tmp_path):
    from app_support import DISTRACTOR, corpus

    retriever, _ = corpus(tmp_path, {"summit.txt": DISTRACTOR})
    result = retriever.search("When did Petro open the regional trade summit?", k=1)
    out = render.answer_html(result)
    assert "on Sunday" in result.hits[0].text
    assert "(Sunday = 1 June 2025)" in _text(out)
    assert "Sunday = " not in _text(render.answer_html(retriever.search("Who opened the regional trade summit?", k=1)))


def test_a_sentence_with_its_own_quotation_marks_is_not_wrapped_again(president):
    nested = next(h for h in president.hits if h.text.endswith('"'))
    out = render.answer_html(president)
    assert f"{html.escape(nested.text)}</p>" in out and '."”' not in _text(out)


def test_a_long_question_is_shown_cut_with_a_note():
    shown = render.question_html("Why? " + "x" * 5000, 300, note="5,005 characters; the first 2,000 were searched")
    assert len(shown) < 400 and shown.endswith("_\\(5,005 characters; the first 2,000 were searched\\)_")
    assert "…" in shown


def test_a_calibrated_confidence_answers_from_the_sure_probability_on(president):
    sure_at = dataclasses.replace(president, found=True, confidence=0.62)
    assert "Answers the question" in render.answer_html(sure_at, threshold=0.2, sure=0.5)
    found_below = dataclasses.replace(president, found=True, confidence=0.35)
    assert "May answer the question" in render.answer_html(found_below, threshold=0.2, sure=0.5)
    # Without its yardstick the same probability would read as far over the threshold.
    assert "Answers the question" in render.answer_html(found_below, threshold=0.2)
    assert "Related only" in render.answer_html(dataclasses.replace(president, found=False), threshold=0.2, sure=0.5)
    assert verdict(True, 0.3, 0.2, sure=0.5) == "may" and verdict(False, 0.9, 0.2, sure=0.5) == "related"
