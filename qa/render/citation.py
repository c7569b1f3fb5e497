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


# -- how far an answer can be trusted ---------------------------------------------------

# Where confidence is not a calibrated probability (dense and bm25 searches, or a fusion
# without the calibrator), a confidence this far above the "found" threshold is clearly over
# it; nearer, a sentence may hold the answer or only share its words (seed and SQuAD questions).
# A calibrated search gives its own yardstick (``sure``: ``Fusion.sure``).
SURE_MARGIN = 0.1
VERDICTS = {
    "answers": "Answers the question",
    "may": "May answer the question — check the quotes",
    "related": "Related only — not an answer",
}


def verdict(found: bool, confidence: float, threshold: float | None = None, sure: float | None = None) -> str:
    """The one measure a reader sees: "answers", "may" or "related" (a key of ``VERDICTS``).

    Not found is "related". A found answer "answers" from the confidence ``sure`` on (for a
    calibrated search, the probability from which the first quote more likely answers than
    not), else "may". Without ``sure`` it is ``threshold`` (the confidence at which the
    retriever says "found") plus ``SURE_MARGIN``; with neither, found counts as answering.

    >>> verdict(True, 0.9, 0.635), verdict(True, 0.66, 0.635), verdict(False, 0.61, 0.635), verdict(True, 0.7)
    ('answers', 'may', 'related', 'answers')
    >>> verdict(True, 0.62, 0.2, sure=0.5), verdict(True, 0.3, 0.2, sure=0.5)
    ('answers', 'may')
    """
    if not found:
        return "related"
    if sure is None and threshold is not None:
        sure = threshold + SURE_MARGIN
    return "answers" if sure is None or confidence >= sure else "may"


def scores_line(result: SearchResult, threshold: float | None = None) -> str:
    """The raw numbers behind a verdict, for a reader who asks for them.

    >>> from qa import SearchResult
    >>> scores_line(SearchResult("Anything?", (), False, 0.4, "hybrid"), 0.635)
    'answer confidence 0.40 (found from 0.64) · hybrid search'
    """
    found_at = f" (found from {threshold:.2f})" if threshold is not None else ""
    ranks = " · ".join(f"[{h.rank}] score {h.score:.2f}" for h in result.hits)
    return f"answer confidence {result.confidence:.2f}{found_at} · {result.mode} search" + (f" · {ranks}" if ranks else "")


# Marks that already open or close a quotation: a sentence starting or ending with one is
# shown as it is, so a quote inside it does not end in two marks ("...friend of Israel."”).
QUOTE_MARKS = "\"'“”‘’«»„‚"


def quoted(text: str) -> str:
    """A sentence in curly quotes, unless it already starts or ends with a quotation mark.

    >>> quoted("He left."), quoted('He said, "We are a friend of Israel."')
    ('“He left.”', 'He said, "We are a friend of Israel."')
    """
    stripped = text.strip()
    if stripped and (stripped[0] in QUOTE_MARKS or stripped[-1] in QUOTE_MARKS):
        return text
    return f"“{text}”"
