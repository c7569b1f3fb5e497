"""Absent terms: the question's names, years and numbers an article never mentions."""

from __future__ import annotations

import pytest

from qa.ranking.absent import absent_terms, fold, question_terms

ARTICLE = ("Ecuador's President Daniel Noboa visited Jerusalem in 2025 and met Isaac Herzog. "
           "Élections were discussed; 1,200 delegates attended the Ukrainian forum.")


def test_a_swapped_name_year_or_number_is_absent():
    assert absent_terms("Did Noboa visit Canberra in 2019?", ARTICLE) == ("canberra", "2019")
    assert absent_terms("How many of the 3,000 delegates attended?", ARTICLE) == ("3000",)


def test_names_the_article_holds_are_present_whatever_the_case_accents_or_plural():
    assert absent_terms("When did Noboa visit JERUSALEM in 2025?", ARTICLE) == ()
    assert absent_terms("Were the elections discussed with the Herzogs?", "Herzog said the élection was discussed.") == ()
    assert absent_terms("How many of the 1200 delegates came?", ARTICLE) == ()


def test_a_long_word_one_edit_away_is_a_typo_not_a_swap_but_a_short_one_is_a_swap():
    assert absent_terms("What did the Ukranian forum decide?", ARTICLE) == ()
    assert absent_terms("What did Peru decide?", "Perm decided nothing.") == ("peru",)


def test_titles_and_sentence_openers_are_not_terms():
    assert question_terms("Who is the President of Ecuador?") == ("ecuador",)
    assert question_terms("What happened?") == ()


@pytest.mark.parametrize("word, folded", [("Élections", "election"), ("boxes", "box"), ("glass", "glass"), ("Gaza", "gaza")])
def test_folding_drops_case_accents_and_plurals(word, folded):
    assert fold(word) == folded
