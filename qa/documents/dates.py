"""Dates in text: publication-date lines, recency words in questions, relative days in sentences.

- ``parse_date``: a string that is only a date ("Monday, 5 May 2025") becomes a ``date``.
- ``recency_filter``: "latest", "this week", "in May 2025" in a question become a ``Filter``
  relative to the newest article's date, with the phrase matched so the UI can show it.
- ``resolve_relative``/``relative_dates``: "on Sunday", "yesterday" in a sentence become
  calendar days from the article's publication date.

All by regular expressions over a closed set of English phrasings, so the same input gives
the same answer anywhere and on any day; nothing here reads the clock. (dateparser, which
trafilatura installs, does read it for relative phrases, and takes "May" or "Sun" for dates.)
Anything unparseable gives ``None`` or ``(None, "")``, never an exception from a weird date.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from ..errors import QueryError
from .filters import Filter

_MONTHS = {name: i for i, names in enumerate([
    (), ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",),
    ("june", "jun"), ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"),
    ("october", "oct"), ("november", "nov"), ("december", "dec")]) for name in names}
_WEEKDAYS = {name: i for i, names in enumerate([
    ("monday", "mon"), ("tuesday", "tue", "tues"), ("wednesday", "wed"), ("thursday", "thu", "thur", "thurs"),
    ("friday", "fri"), ("saturday", "sat"), ("sunday", "sun")]) for name in names}
_FULL_WEEKDAYS = [calendar.day_name[i].lower() for i in range(7)]

_MONTH_NAMES = "|".join(sorted(_MONTHS, key=len, reverse=True))
_WEEKDAY_NAMES = "|".join(sorted(_WEEKDAYS, key=len, reverse=True))


def _calendar_date(n: int, year_optional: bool = False) -> str:
    """ISO, "May 5, 2025" or "5 May 2025" (the year optional when asked).

    Group names must be unique in one pattern, so each use numbers its groups with ``n``.
    """
    def parts(side: str) -> tuple[str, str, str]:
        return (rf"(?P<month{n}{side}>{_MONTH_NAMES})\.?", rf"(?P<day{n}{side}>\d{{1,2}})(?:st|nd|rd|th)?",
                rf"(?P<year{n}{side}>\d{{4}})")

    (ma, da, ya), (mb, db, yb), y = parts("a"), parts("b"), "?" if year_optional else ""
    return rf"(?:(?P<iso{n}>\d{{4}}-\d{{2}}-\d{{2}})|{ma}\s+{da}(?:,?\s+{ya}){y}|{db}\s+(?:of\s+)?{mb}(?:,?\s+{yb}){y})"


_WEEKDAY = rf"(?:(?P<weekday>{_WEEKDAY_NAMES})\.?,?\s+)?"
# A trailing time of day ("10:30", "10.30am BST", "| 14:05 GMT") adds nothing to the date.
_TIME = r"(?:\s*(?:[,|\-\u2013]|at)?\s*\d{1,2}[:.]\d{2}(?::\d{2})?(?:\.\d+)?\s*(?:[ap]\.?m\.?)?\s*(?:[A-Z]{2,5}|UTC[+-]\d{1,2})?)?"
_ISO_TIME = r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
# "Published: ...", "Posted on ..." label a publication date; "Updated" does not.
_LABEL = r"(?:(?:first\s+)?(?:published|posted|dated?)(?:\s+on)?\s*:?\s*)?"
_DATE_ONLY = re.compile(rf"\s*[*_]*\s*{_LABEL}{_WEEKDAY}{_calendar_date(0)}{_ISO_TIME}{_TIME}\s*[*_]*\s*", re.IGNORECASE)

_MIN_YEAR, _MAX_YEAR = 1800, 2200  # outside this a "date" is a typo or a placeholder


def _make_date(year, month, day, weekday: str | None = None) -> date | None:
    try:
        d = date(int(year), int(month), int(day))
    except (TypeError, ValueError, OverflowError):
        return None
    if not _MIN_YEAR <= d.year <= _MAX_YEAR:
        return None
    # "Monday, 6 May 2025" names a Tuesday: one of the two is wrong, so trust neither.
    if weekday and _WEEKDAYS[weekday.lower().rstrip(".")] != d.weekday():
        return None
    return d


def _date_from_match(m: re.Match, n: int = 0, default_year: int | None = None) -> date | None:
    """The date matched by ``_calendar_date(n)``; a missing year is ``default_year``."""
    g = m.groupdict()
    if g.get(f"iso{n}"):
        y, mo, d = g[f"iso{n}"].split("-")
        return _make_date(y, mo, d, g.get("weekday"))
    for side in "ab":
        if g.get(f"month{n}{side}"):
            year = g.get(f"year{n}{side}") or default_year
            return _make_date(year, _MONTHS[g[f"month{n}{side}"].lower()], g[f"day{n}{side}"], g.get("weekday"))
    return None


def _has_year(m: re.Match, n: int) -> bool:
    return any(m.groupdict().get(f"{k}{n}{s}") for k, s in (("iso", ""), ("year", "a"), ("year", "b")))


def parse_date(text) -> date | None:
    """The date a string consists of, or ``None`` if it is anything more or less than a date.

    >>> parse_date("Monday, 5 May 2025"), parse_date("May 5, 2025 10:30 GMT")
    (datetime.date(2025, 5, 5), datetime.date(2025, 5, 5))
    >>> parse_date("2025-02-30"), parse_date("Tuesday, 5 May 2025"), parse_date("May 2025 was warm")
    (None, None, None)
    """
    if not isinstance(text, str) or len(text) > 120:
        return None
    m = _DATE_ONLY.fullmatch(text)
    return _date_from_match(m) if m else None


def as_date(value) -> date | None:
    """A ``date`` from a date, a datetime or an ISO string (``Document.date``); else ``None``.

    >>> as_date("2025-05-05"), as_date("5/5/25"), as_date(None)
    (datetime.date(2025, 5, 5), None, None)
    """
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value.strip()[:10]) if isinstance(value, str) else None
    except ValueError:
        return None


# ---------------------------------------------------------------- recency words in questions

_NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve".split()) if i}
_NUMBER_WORDS.update({"a": 1, "an": 1, "couple of": 2, "few": 3, "several": 3})
_UNIT = r"(?P<unit>day|week|month|year)s?"
_COUNT = r"(?P<count>\d{1,3}|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")"
# How a period is bounded: "since March" is open-ended, "before 2024" ends before it starts.
_PREFIX = r"(?:(?P<prefix>in|during|since|from|after|before|until|till|through)\s+(?:the\s+)?)"
_BOUND = r"(?P<prefix>since|from|after|before|until|till|through)\s+(?:the\s+)?"

# In priority order: an explicit month or year says more than "latest", so it wins. A single
# day counts only as a bound ("since May 4, 2025"): "on May 4" in a question is when the
# event happened, and the article telling it was published later.
_RECENCY_RULES = [
    ("day", re.compile(rf"\b{_BOUND}(?:on\s+)?{_calendar_date(1, year_optional=True)}\b(?!\s*\d)", re.I)),
    ("month", re.compile(rf"\b{_PREFIX}?(?P<monthq>{_MONTH_NAMES})\.?(?:\s+of)?,?\s+(?P<qyear>(?:19|20|21)\d\d)\b", re.I)),
    ("month", re.compile(rf"\b{_PREFIX}(?P<monthq>{_MONTH_NAMES})\.?(?!\s*\d)\b", re.I)),
    ("year", re.compile(rf"\b{_PREFIX}(?:the\s+year\s+)?(?P<qyear>(?:19|20|21)\d\d)\b(?![-/]\d)", re.I)),
    ("past", re.compile(r"\b(?:(?:in|over|during|within)\s+)?(?:the\s+(?:last|past|previous)|past)\s+"
                        rf"(?:{_COUNT}\s+)?{_UNIT}\b", re.I)),
    ("relative", re.compile(rf"\b{_PREFIX}?(?P<rel>(?:this|last|previous)\s+(?:week|month|year))\b", re.I)),
    ("relative", re.compile(r"\b(?P<rel>today|yesterday)\b", re.I)),
    ("recent", re.compile(r"\b(?P<rel>latest|newest|most\s+recent(?:ly)?)\b", re.I)),
]


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _shift_months(d: date, months: int) -> date:
    total = d.year * 12 + d.month - 1 + months
    year, month = divmod(total, 12)
    return date(year, month + 1, min(d.day, calendar.monthrange(year, month + 1)[1]))


def _last_month_named(month: int, newest: date) -> tuple[date, date]:
    """The most recent ``month`` that has begun by ``newest`` (this one if it is that month)."""
    year = newest.year if month <= newest.month else newest.year - 1
    return date(year, month, 1), _month_end(year, month)


def _period(kind: str, m: re.Match, newest: date) -> tuple[date, date] | None:
    """The first and last day a matched phrase names, relative to ``newest``."""
    g = m.groupdict()
    if kind == "day":
        d = _date_from_match(m, 1, default_year=newest.year)
        if d and d > newest and not _has_year(m, 1):
            d = _date_from_match(m, 1, default_year=newest.year - 1)  # "since May 4": the last one
        return (d, d) if d else None
    if kind == "month":
        month = _MONTHS[g["monthq"].lower()]
        if g.get("qyear"):
            return date(int(g["qyear"]), month, 1), _month_end(int(g["qyear"]), month)
        return _last_month_named(month, newest)
    if kind == "year":
        return date(int(g["qyear"]), 1, 1), date(int(g["qyear"]), 12, 31)
    if kind == "past":
        count, unit = (g.get("count") or "a").lower(), g["unit"].lower()
        n = int(count) if count.isdigit() else _NUMBER_WORDS.get(" ".join(count.split()), 1)
        if n < 1:
            return None
        if unit in ("day", "week"):
            return newest - timedelta(days=n * (7 if unit == "week" else 1) - 1), newest
        start = _shift_months(newest, -n * (12 if unit == "year" else 1)) + timedelta(days=1)
        return start, newest
    rel = " ".join(g["rel"].lower().replace("previous", "last").split())
    if kind == "recent":
        return newest - timedelta(days=29), newest  # "latest": the 30 days up to the newest article
    first_of_month = newest.replace(day=1)
    return {
        "today": (newest, newest),
        "yesterday": (newest - timedelta(days=1), newest - timedelta(days=1)),
        "this week": (newest - timedelta(days=6), newest),
        "last week": (newest - timedelta(days=13), newest - timedelta(days=7)),
        "this month": (first_of_month, newest),
        "last month": (_shift_months(first_of_month, -1), first_of_month - timedelta(days=1)),
        "this year": (date(newest.year, 1, 1), newest),
        "last year": (date(newest.year - 1, 1, 1), date(newest.year - 1, 12, 31)),
    }.get(rel)


def _bounds(prefix: str | None, start: date, end: date) -> tuple[date | None, date | None]:
    return {"since": (start, None), "from": (start, None), "after": (end + timedelta(days=1), None),
            "before": (None, start - timedelta(days=1)), "until": (None, end), "till": (None, end),
            "through": (None, end)}.get((prefix or "").lower(), (start, end))


def recency_filter(question: str, newest: date | str | None, oldest: date | str | None = None) -> tuple[Filter | None, str]:
    """The date range a question's recency words ask for, and the phrase that asked.

    ``newest`` (and optional ``oldest``) are the dates of the newest and oldest indexed
    articles (``date`` or ISO string); relative words count back from ``newest``, not from
    today, so "this week" in a 1987 corpus means its last week. Returns ``(None, "")`` when
    the question has no recency words, when ``newest`` is unknown, or when the range would
    hold no article at all (it starts after ``newest`` or ends before ``oldest``): a filter
    that admits nothing would hide every answer for what is probably a date in the story.

    "latest"/"newest"/"most recent": the 30 days up to ``newest``; "this week" the 7 days up
    to it; "this month"/"this year" from the 1st to it; "last month"/"last year" the whole
    calendar month/year before; "in May 2025", "in 2024" the whole month/year; "in May" the
    most recent May; "since", "from", "after", "before", "until" bound one side only.

    >>> f, phrase = recency_filter("What did Noboa say in May 2025?", date(2025, 5, 5))
    >>> f.since, f.until, phrase
    ('2025-05-01', '2025-05-31', 'in May 2025')
    >>> recency_filter("Latest news on Ecuador?", "2025-05-05")[0].since
    '2025-04-06'
    >>> recency_filter("Who is the president of Ecuador?", date(2025, 5, 5))
    (None, '')
    """
    if not isinstance(question, str):
        raise QueryError(f"the question must be text, not {type(question).__name__}")
    newest, oldest = as_date(newest), as_date(oldest)
    if newest is None:
        return None, ""
    for kind, pattern in _RECENCY_RULES:
        for m in pattern.finditer(question):
            try:
                period = _period(kind, m, newest)
                since, until = _bounds(m.groupdict().get("prefix"), *period) if period else (newest, None)
            except (OverflowError, ValueError):  # counting past year 1 or 9999: no such range
                continue
            if period is None or (since and since > newest) or (until and oldest and until < oldest):
                continue
            return Filter(since=since, until=until), m.group(0).strip()
    return None, ""


_SPACE_BEFORE_PUNCT = re.compile(r"\s+([?.!,;:])")


def question_without(question: str, phrase: str) -> str:
    """The question with the recency phrase taken out, for retrieval text or "remove filter".

    >>> question_without("What did Noboa say in May 2025?", "in May 2025")
    'What did Noboa say?'
    >>> question_without("Who won?", "")
    'Who won?'
    """
    if not isinstance(question, str) or not isinstance(phrase, str) or not phrase.strip():
        return question
    i = question.lower().find(phrase.strip().lower())
    if i < 0:
        return question
    rest = question[:i] + " " + question[i + len(phrase.strip()):]
    rest = _SPACE_BEFORE_PUNCT.sub(r"\1", " ".join(rest.split()))
    return rest.strip(" ,;") or question


def period_label(f: Filter | None) -> str:
    """A date filter in a reader's words: "May 2025", "2024", "5 May 2025", "since 1 March 2025".

    >>> period_label(Filter(since="2025-05-01", until="2025-05-31")), period_label(Filter(since="2025-03-01"))
    ('May 2025', 'since 1 March 2025')
    """
    since, until = (as_date(f.since), as_date(f.until)) if f is not None else (None, None)

    def day(d: date) -> str:
        return f"{d.day} {calendar.month_name[d.month]} {d.year}"

    if since and until:
        if since == until:
            return day(since)
        if (since.month, since.day, until.month, until.day) == (1, 1, 12, 31) and since.year == until.year:
            return str(since.year)
        if since.day == 1 and (since.year, since.month) == (until.year, until.month) and until == _month_end(until.year, until.month):
            return f"{calendar.month_name[since.month]} {since.year}"
        return f"{day(since)} to {day(until)}"
    if since:
        return f"since {day(since)}"
    return f"until {day(until)}" if until else ""


# ---------------------------------------------------------------- relative days in sentences

@dataclass(frozen=True)
class RelativeDate:
    """A time expression in a sentence and the calendar day it names: ``text == sentence[start:end]``."""

    start: int
    end: int
    text: str
    date: date


_FIXED_OFFSETS = {"the day before yesterday": -2, "yesterday": -1, "last night": -1, "today": 0, "tonight": 0,
                  "this morning": 0, "this afternoon": 0, "this evening": 0, "tomorrow": 1}
_FIXED = re.compile(r"\b(?:" + "|".join(k.replace(" ", r"\s+") for k in sorted(_FIXED_OFFSETS, key=len, reverse=True)) + r")\b", re.I)
# Weekdays named in full only ("Sun" is a newspaper, "Wed" a verb). "Sundays" is a habit, not a day.
_WEEKDAY_IN_TEXT = re.compile(r"\b(?P<last>last\s+)?(?P<name>" + "|".join(_FULL_WEEKDAYS) + r")\b(?!s\b)", re.I)
# "Good Friday", "Super Tuesday", "the Sunday Times": names, not the day before publication.
_NAMED_DAY_BEFORE = re.compile(r"\b(?:good|black|super|ash|easter|palm|bloody|cyber|holy|maundy|shrove|whit|blue|this|next|every|each|coming)\s+$", re.I)
_NAMED_DAY_AFTER = re.compile(r"^\s+(?:times|telegraph|mirror|express|post|herald|tribune|mail|sport|star|independent|observer|people|night\s+live|night\s+football)\b", re.I)
_MONTH_DAY = re.compile(rf"\b{_calendar_date(2, year_optional=True)}\b(?!\s*[:.]\d)", re.I)
# Tense decides which way an unanchored "on Sunday" or "on May 4" points from publication.
_FUTURE = re.compile(r"\b(?:will|shall|won't|due\s+to|set\s+to|expected\s+to|scheduled|plans?\s+to|going\s+to|is\s+to|are\s+to)\b|'ll\b", re.I)
_CLAUSE_BREAK = re.compile(r"[,;:()\u2013\u2014]|\bsaid\b|\bsays\b")


def _future(sentence: str, start: int) -> bool:
    return bool(_FUTURE.search(_CLAUSE_BREAK.split(sentence[:start])[-1]))


def _month_day(m: re.Match, published: date, future: bool) -> date | None:
    if "may" in m.groupdict().values():
        return None  # lower-case "may 10" is a verb before a number, not the month
    if _has_year(m, 2):
        return _date_from_match(m, 2)
    for year in ((published.year, published.year + 1) if future else (published.year, published.year - 1)):
        d = _date_from_match(m, 2, default_year=year)
        if d and (d >= published if future else d <= published):
            return d
    return None


def relative_dates(sentence: str, published: date | str | None) -> tuple[RelativeDate, ...]:
    """Every day-naming time expression in ``sentence``, resolved from the ``published`` date.

    A bare weekday ("on Sunday") is the most recent such day on or before publication, or on
    or after it when its clause is in the future tense ("will meet on Thursday"); "last
    Monday" is strictly before. "May 4" without a year takes the year that puts it on the
    same side. Ranges ("last week", "this month") and "next Monday" (this coming one or the
    one after?) are ambiguous and left out.

    >>> [(r.text, r.date.isoformat()) for r in relative_dates("Talks ended on Sunday.", "2025-05-06")]
    [('Sunday', '2025-05-04')]
    """
    published = as_date(published)
    if published is None or not isinstance(sentence, str):
        return ()
    found: list[RelativeDate] = []

    def add(start: int, end: int, d: date | None) -> None:
        if d is None or not _MIN_YEAR <= d.year <= _MAX_YEAR:
            return
        if any(start < r.end and r.start < end for r in found):
            return  # "Sunday, May 4": the explicit date already covers it
        found.append(RelativeDate(start, end, sentence[start:end], d))

    try:
        for m in _MONTH_DAY.finditer(sentence):
            add(m.start(), m.end(), _month_day(m, published, _future(sentence, m.start())))
        for m in _FIXED.finditer(sentence):
            add(m.start(), m.end(), published + timedelta(days=_FIXED_OFFSETS[" ".join(m.group(0).lower().split())]))
        for m in _WEEKDAY_IN_TEXT.finditer(sentence):
            if _NAMED_DAY_BEFORE.search(sentence[:m.start()]) or _NAMED_DAY_AFTER.match(sentence[m.end():]):
                continue
            back = (published.weekday() - _FULL_WEEKDAYS.index(m.group("name").lower())) % 7
            if any(0 <= r.start - m.end() <= 2 for r in found):
                continue  # "Sunday, May 4": the date it names is the one written next to it
            if m.group("last"):
                back = back or 7
            elif _future(sentence, m.start()):
                back = -((7 - back) % 7)
            add(m.start(), m.end(), published - timedelta(days=back))
    except OverflowError:  # a date next to year 1 or 9999: no day to name
        return ()
    return tuple(sorted(found, key=lambda r: r.start))


def resolve_relative(text_span: str, published: date | str | None) -> date | None:
    """The day the first time expression in ``text_span`` names, from the article's date.

    Pass the answer sentence (its tense matters) or just the phrase. ``None`` when the span
    names no single day or ``published`` is not a date.

    >>> resolve_relative("on Sunday", date(2025, 5, 6)), resolve_relative("yesterday", "2025-05-06")
    (datetime.date(2025, 5, 4), datetime.date(2025, 5, 5))
    >>> resolve_relative("on Sunday", None), resolve_relative("last week", date(2025, 5, 6))
    (None, None)
    """
    found = relative_dates(text_span, published)
    return found[0].date if found else None
