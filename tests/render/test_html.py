"""The chat's HTML: verbatim numbered quotes, complete citations, escaped text, exact highlights."""

from __future__ import annotations

import html
import re

import pytest
from app_support import SEED_DOC

from qa import Filter
from qa.render import html as render
from qa.render.citation import best_score, match_label
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
        assert f"[{hit.rank}]</a> “{html.escape(hit.text)}”" in out
    assert [h.rank for h in president.hits] == [1, 2, 3]
    assert "President Daniel Noboa of Ecuador" in _text(out)


def test_each_citation_names_article_source_date_place_and_match_strength(president):
    hit = president.hits[0]
    card = render.citation_html(hit, best_score(president))
    text = _text(card)
    assert "Ecuador And Israel Cement Security Alliance As Jerusalem Office Opens" in text
    assert "The Rio Times" in text and "2025-05-05" in text
    assert f"sentence {hit.sentence.number} of 27, paragraph {hit.sentence.paragraph}" in text
    assert f"{match_label(hit.score, best_score(president))} match · score {hit.score:.2f}" in text


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
    assert out.count("possibly related ·") == 2
    assert "match ·" not in text  # no "strong match" label on a non-answer


def test_empty_index_answer_says_to_add_documents():
    result = SearchResult("Anything?", (), False, 0.0, "hybrid")
    assert "No documents are indexed yet" in render.answer_html(result)


def test_filtered_answer_says_which_articles_it_was_limited_to(seed):
    none = seed.search("Who is the president of Ecuador?", filter=Filter(since="2030-01-01"))
    out = render.answer_html(none)
    assert "Searched only articles matching: since 2030-01-01." in out and "No indexed article matches the filter." in out
    assert "No documents are indexed yet" not in out
    some = seed.search("Who is the president of Ecuador?", k=1, filter=Filter(sources=("The Rio Times",)))
    assert "Searched only articles matching: source The Rio Times." in render.answer_html(some)


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


def test_match_strength_is_judged_against_the_best_sentence_for_the_question(president):
    best = best_score(president)
    assert best == max(h.score for h in president.hits)
    top = next(h for h in president.hits if h.score == best)
    assert "strong match" in render.citation_html(top, best)
    # Whatever scale the ranking uses, halving every score changes no label.
    assert [match_label(h.score, best) for h in president.hits] == \
        [match_label(h.score / 2, best / 2) for h in president.hits]
