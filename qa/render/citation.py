"""Citation: what every renderer says about a hit in words — where it is, how well it matches.

The text, HTML and JSON forms of an answer share these, so a hit reads the same everywhere
("sentence 25 of 27, paragraph 12", "strong match").

>>> source_line("Ecuador Opens Office", None, "2025-05-05")
'Ecuador Opens Office · 2025-05-05'
"""

from __future__ import annotations

from ..retrieval import Hit, SearchResult

# Hybrid scores have no fixed scale (they depend on the ranking recipe and the mode), so a
# match is judged against the best sentence found for the same question.
STRONG_MATCH = 0.75
GOOD_MATCH = 0.5


def match_label(score: float, best: float) -> str:
    """A word for how strong a hit's ``score`` is next to the ``best`` score for its question.

    >>> match_label(1.8, 2.0), match_label(1.1, 2.0), match_label(0.2, 2.0), match_label(0.0, 0.0)
    ('strong', 'good', 'weak', 'weak')
    """
    share = score / best if best > 0 else 0.0
    return "strong" if share >= STRONG_MATCH else "good" if share >= GOOD_MATCH else "weak"


def best_score(result: SearchResult) -> float:
    """The highest score among a result's hits (0.0 without hits): the yardstick of ``match_label``.

    >>> from qa import SearchResult
    >>> best_score(SearchResult("Anything?", (), False, 0.0, "hybrid"))
    0.0
    """
    return max((h.score for h in result.hits), default=0.0)


def where(hit: Hit) -> str:
    """Where a hit stands in its article.

    >>> from qa import Retriever
    >>> where(Retriever.from_directory("seeds").search("hostages held by Hamas", k=1).hits[0])
    'sentence 25 of 27, paragraph 12'
    """
    s = hit.sentence
    return f"sentence {s.number} of {s.total}, paragraph {s.paragraph}"


def source_line(title: str | None, source: str | None, date: str | None) -> str:
    """Title, source and date joined for reading, leaving out what is unknown.

    >>> source_line("Title", "The Rio Times", None)
    'Title · The Rio Times'
    """
    return " · ".join(part for part in (title, source, date) if part)


def follow_up_questions(follow_up_of: str | None) -> list[str]:
    """The earlier questions a follow-up was read after, oldest first (``Turn.follow_up_of``
    keeps them one a line); an empty list for a standalone question.

    >>> follow_up_questions("Who is the president?\\nAnd his minister?"), follow_up_questions(None)
    (['Who is the president?', 'And his minister?'], [])
    """
    return [q for q in (follow_up_of or "").split("\n") if q]
