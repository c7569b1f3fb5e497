"""Dates: date-only lines, recency words in questions as date filters, relative days in sentences."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa import QueryError
from qa.documents.dates import (
    RelativeDate, parse_date, period_label, question_without, recency_filter, relative_dates, resolve_relative)
from qa.documents.filters import Filter
from qa.documents.loading import read_document
from qa.documents.sentences import split_document

SEED = Path(__file__).resolve().parents[2] / "seeds" / "000_efff323ac530a1c5.txt"
NEWEST = date(2025, 5, 5)  # the seed article's date, a Monday


# ------------------------------------------------------------------ parse_date

@pytest.mark.parametrize("line", [
    "May 5, 2025", "2025-05-05", "5 May 2025", "Monday, 5 May 2025", "Mon, May 5, 2025",
    "May 5th, 2025", "5th of May 2025", "Published: May 5, 2025", "Posted on 5 May 2025",
    "*May 5, 2025*", "2025-05-05T10:00:00Z", "Mon, 5 May 2025 10:30 GMT", "May 5, 2025 | 10:30 am",
    "  5 MAY 2025  ",
])
def test_date_only_lines_in_common_formats_parse_to_the_day(line):
    assert parse_date(line) == NEWEST


@pytest.mark.parametrize("line", [
    "2025-02-30", "0001-01-01", "9999-12-31",            # impossible or placeholder days
    "Tuesday, 5 May 2025",                               # the weekday contradicts the date
    "05/06/2025", "5/5/25",                              # day and month order unknowable
    "May 2025", "May 5", "Updated May 5, 2025",          # not a whole publication date
    "May 5, 2025 was a warm day", "", "   ", "x" * 500,
])
def test_anything_but_a_whole_valid_date_is_not_a_date(line):
    assert parse_date(line) is None


@pytest.mark.parametrize("value", [None, 20250505, b"2025-05-05", ["2025-05-05"]])
def test_non_text_is_not_a_date_rather_than_an_error(value):
    assert parse_date(value) is None


# ------------------------------------------------------------------ recency_filter

def bounds(question, newest=NEWEST, **kw):
    f, phrase = recency_filter(question, newest, **kw)
    return (f.since, f.until, phrase) if f else (None, None, phrase)


@pytest.mark.parametrize("question,expected", [
    ("What is the latest on Ecuador?", ("2025-04-06", "2025-05-05", "latest")),
    ("What was the most recent deal?", ("2025-04-06", "2025-05-05", "most recent")),
    ("Newest articles about Israel?", ("2025-04-06", "2025-05-05", "Newest")),
    ("What happened this week?", ("2025-04-29", "2025-05-05", "this week")),
    ("What happened last week?", ("2025-04-22", "2025-04-28", "last week")),
    ("Any news this month?", ("2025-05-01", "2025-05-05", "this month")),
    ("What happened last month?", ("2025-04-01", "2025-04-30", "last month")),
    ("Deals signed this year?", ("2025-01-01", "2025-05-05", "this year")),
    ("What did they agree last year?", ("2024-01-01", "2024-12-31", "last year")),
    ("What did Noboa say in May 2025?", ("2025-05-01", "2025-05-31", "in May 2025")),
    ("What happened in 2024?", ("2024-01-01", "2024-12-31", "in 2024")),
    ("What happened in May?", ("2025-05-01", "2025-05-31", "in May")),
    ("What happened in June?", ("2024-06-01", "2024-06-30", "in June")),  # the last June begun
    ("What changed since March?", ("2025-03-01", None, "since March")),
    ("Anything since May 4, 2025?", ("2025-05-04", None, "since May 4, 2025")),
    ("Articles before 2025?", (None, "2024-12-31", "before 2025")),
    ("Anything after April 2025?", ("2025-05-01", None, "after April 2025")),
    ("What happened yesterday?", ("2025-05-04", "2025-05-04", "yesterday")),
    ("What happened today?", ("2025-05-05", "2025-05-05", "today")),
    ("News from the past two weeks?", ("2025-04-22", "2025-05-05", "the past two weeks")),
    ("What happened over the last 3 days?", ("2025-05-03", "2025-05-05", "over the last 3 days")),
])
def test_recency_words_become_a_date_range_relative_to_the_newest_article(question, expected):
    assert bounds(question) == expected
    assert expected[2] in question  # the phrase is the question's own text, for "from '...'"


def test_relative_words_count_from_the_newest_article_not_from_today():
    assert bounds("What happened this week?", date(1987, 10, 20)) == ("1987-10-14", "1987-10-20", "this week")


def test_an_explicit_month_wins_over_a_vaguer_recency_word():
    assert bounds("The latest news in May 2025?")[:2] == ("2025-05-01", "2025-05-31")


@pytest.mark.parametrize("question", [
    "Who is the president of Ecuador?",
    "What may happen to the deal?",             # "may" the verb, not the month
    "What did Noboa say on May 4, 2025?",       # a day in a question is when it happened
    "How many died in 2019-2020?",
    "",
])
def test_questions_without_recency_words_get_no_filter(question):
    assert recency_filter(question, NEWEST) == (None, "")


def test_a_range_after_the_newest_article_is_no_filter():
    assert recency_filter("What happens in 2030?", NEWEST) == (None, "")


def test_a_range_before_the_oldest_article_is_no_filter_since_the_year_is_the_storys():
    # "In 2019, Israel ..." is in the seed article: a 2019 publication filter would hide it.
    assert recency_filter("What did Israel sell in 2019?", NEWEST, oldest=NEWEST) == (None, "")
    assert bounds("What did Israel sell in 2019?")[:2] == ("2019-01-01", "2019-12-31")


@pytest.mark.parametrize("newest", [None, "", "not a date", "2025-13-01", 42])
def test_unknown_newest_date_gives_no_filter(newest):
    assert recency_filter("What is the latest?", newest) == (None, "")


def test_newest_may_be_an_iso_string_as_documents_store_it():
    assert bounds("latest?", "2025-05-05") == ("2025-04-06", "2025-05-05", "latest")


def test_a_question_that_is_not_text_is_a_clear_error():
    with pytest.raises(QueryError, match="question must be text"):
        recency_filter(None, NEWEST)


def test_the_filter_it_returns_is_the_ordinary_filter_with_its_admission_rule():
    f, _ = recency_filter("in May 2025", NEWEST)
    assert isinstance(f, Filter) and f.dated and not f.sources
    assert f.admits(read_document(SEED))


# ------------------------------------------------------------------ question_without, period_label

@pytest.mark.parametrize("question,phrase,expected", [
    ("What did Noboa say in May 2025?", "in May 2025", "What did Noboa say?"),
    ("What is the latest on Ecuador?", "latest", "What is the on Ecuador?"),
    ("LAST YEAR, what happened?", "last year", "what happened?"),
    ("Who won?", "", "Who won?"),
    ("Who won?", "in 2024", "Who won?"),                 # not there: unchanged
    ("in 2024", "in 2024", "in 2024"),                   # nothing would be left: unchanged
])
def test_question_without_removes_the_phrase_and_tidies_spaces(question, phrase, expected):
    assert question_without(question, phrase) == expected


@pytest.mark.parametrize("f,label", [
    (Filter(since="2025-05-01", until="2025-05-31"), "May 2025"),
    (Filter(since="2024-01-01", until="2024-12-31"), "2024"),
    (Filter(since="2025-05-04", until="2025-05-04"), "4 May 2025"),
    (Filter(since="2025-04-06", until="2025-05-05"), "6 April 2025 to 5 May 2025"),
    (Filter(since="2025-03-01"), "since 1 March 2025"),
    (Filter(until="2024-12-31"), "until 31 December 2024"),
    (Filter(), ""),
    (None, ""),
])
def test_period_label_says_the_range_in_words(f, label):
    assert period_label(f) == label


# ------------------------------------------------------------------ relative days in sentences

TUESDAY = date(2025, 5, 6)


@pytest.mark.parametrize("span,expected", [
    ("on Sunday", date(2025, 5, 4)),                 # the most recent Sunday before publication
    ("Talks ended on Sunday.", date(2025, 5, 4)),
    ("They met on Tuesday.", TUESDAY),               # the publication day itself
    ("They met last Tuesday.", date(2025, 4, 29)),   # "last": strictly before
    ("last Monday", date(2025, 5, 5)),
    ("yesterday", date(2025, 5, 5)),
    ("last night", date(2025, 5, 5)),
    ("the day before yesterday", date(2025, 5, 4)),
    ("today", TUESDAY),
    ("tomorrow", date(2025, 5, 7)),
    ("It opened on May 4.", date(2025, 5, 4)),       # year from publication
    ("on May 4, 2025", date(2025, 5, 4)),
    ("on 4 May 2025", date(2025, 5, 4)),
    ("He said on Sunday that he will return.", date(2025, 5, 4)),   # "will" is in another clause
    ("The vote will take place on Sunday.", date(2025, 5, 11)),     # future tense: the coming one
    ("It will reopen on May 4.", date(2026, 5, 4)),
    ("Sunday, May 4, 2025", date(2025, 5, 4)),
])
def test_relative_days_resolve_from_the_publication_date(span, expected):
    assert resolve_relative(span, TUESDAY) == expected


@pytest.mark.parametrize("span", [
    "last week", "this month", "next Monday", "this Sunday", "every Sunday", "on Sundays",
    "The Sunday Times reported it.", "On Good Friday they marched.", "Super Tuesday results",
    "They may 4 times refuse.", "no date here", "",
])
def test_ranges_names_and_ambiguous_days_resolve_to_nothing(span):
    assert resolve_relative(span, TUESDAY) is None


@pytest.mark.parametrize("published", [None, "", "soon", "2025-02-30", 20250506, "0001-01-01"])
def test_a_missing_or_weird_publication_date_resolves_nothing_without_raising(published):
    assert resolve_relative("on Sunday", published) is None


@pytest.mark.parametrize("published", [date(1, 1, 1), date(9999, 12, 31), date(1800, 1, 1)])
def test_dates_at_the_ends_of_the_calendar_do_not_raise(published):
    for span in ("on Sunday", "yesterday", "tomorrow", "on May 4", "It will open on May 4."):
        resolve_relative(span, published)  # None or a date, never OverflowError


@pytest.mark.parametrize("span", [None, 42, b"on Sunday"])
def test_a_span_that_is_not_text_resolves_nothing(span):
    assert resolve_relative(span, TUESDAY) is None


def test_relative_dates_give_every_expression_with_offsets_into_the_sentence():
    sentence = "He arrived yesterday and leaves on Thursday, officials said on Sunday."
    found = relative_dates(sentence, TUESDAY)
    assert [(r.text, r.date) for r in found] == [
        ("yesterday", date(2025, 5, 5)), ("Thursday", date(2025, 5, 1)), ("Sunday", date(2025, 5, 4))]
    assert all(isinstance(r, RelativeDate) and sentence[r.start:r.end] == r.text for r in found)


def test_the_seed_articles_visit_date_resolves_in_its_sentence():
    doc = read_document(SEED)
    sentence = next(doc.text[s.start:s.end] for s in split_document(doc) if "first official visit" in doc.text[s.start:s.end])
    assert resolve_relative(sentence, doc.date) == date(2025, 5, 4)
    # The same news told the way wires tell it, from the seed's date (a Monday):
    told = sentence.replace("on May 4, 2025", "on Sunday")
    assert resolve_relative(told, doc.date) == date(2025, 5, 4)
    assert resolve_relative(sentence.replace("on May 4, 2025", "yesterday"), doc.date) == date(2025, 5, 4)


REUTERS = Path(__file__).resolve().parents[3] / "shared" / "data" / "reuters" / "articles"


@pytest.mark.skipif(not (REUTERS / "11397.txt").is_file(), reason="needs ../shared/data/reuters")
def test_a_reuters_on_sunday_resolves_to_the_sunday_before_its_tuesday_date():
    doc = read_document(REUTERS / "11397.txt")
    assert doc.date == "1987-03-31"  # a Tuesday
    sentence = next(doc.text[s.start:s.end] for s in split_document(doc) if "returned on Sunday" in doc.text[s.start:s.end])
    assert resolve_relative(sentence, doc.date) == date(1987, 3, 29)


@pytest.mark.parametrize("newest", [date(1, 1, 1), date(9999, 12, 31)])
def test_recency_at_the_ends_of_the_calendar_does_not_raise(newest):
    for question in ("latest?", "this week", "last year", "last month", "in the past 999 years", "since March", "yesterday"):
        f, phrase = recency_filter(question, newest)
        assert (f is None) == (phrase == "")


# ------------------------------------------------------------------ never an exception

_DATE_WORDS = st.sampled_from(["on", "Sunday", "last", "Monday", "May", "may", "4", "31", "2025", "0000", "9999",
                               "in", "since", "before", "the", "past", "99", "weeks", "yesterday", "latest", ",", "-",
                               "Feb", "30", "1st", "of", "will", "said", "2025-02-30", "2025-05-05", "10:30", "GMT"])


@settings(max_examples=300, deadline=None)
@given(words=st.lists(_DATE_WORDS | st.text(max_size=8), max_size=12), day=st.dates())
def test_no_mix_of_date_words_and_days_raises(words, day):
    text = " ".join(words)
    parse_date(text)
    f, phrase = recency_filter(text, day)
    assert (f is None) == (phrase == "") and (phrase in text)
    for r in relative_dates(text, day):
        assert text[r.start:r.end] == r.text
    resolve_relative(text, day.isoformat())
