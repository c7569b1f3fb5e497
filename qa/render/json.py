"""JSON: the one shape of a search result for programs — ``qa ask --json``, ``qa eval --details``
and the app's HTTP ``search`` endpoint all return ``result_to_dict``.

``RESULT_SCHEMA`` (JSON Schema, draft 2020-12) describes it field by field;
tests/render/test_json.py checks the README's table and docs/search-result.schema.json
against it and validates every producer's output with it. A change that
removes or renames a field bumps ``SCHEMA_VERSION``; adding one does not.

>>> from qa import Retriever
>>> d = result_to_dict(Retriever.from_directory("seeds").search("When did formal diplomatic relations begin?", k=1))
>>> d["schema"], d["found"], d["hits"][0]["text"], d["hits"][0]["sentence"]
('qa.search-result/1', True, 'Formal diplomatic relations began in 1949.', 17)
"""

from __future__ import annotations

import json as _json  # the standard library's (this module is qa.render.json)
from typing import Sequence

from ..documents.filters import Filter
from ..ranking import MODES
from ..retrieval import Hit, SearchResult, Source
from .citation import follow_up_questions

SCHEMA_VERSION = "qa.search-result/1"
EVAL_DETAIL_VERSION = "qa.eval-detail/1"
# Scores and confidence are floats of no fixed scale; four decimals keep order and ties
# readable without printing float noise.
DECIMALS = 4


def _object(description: str, properties: dict) -> dict:
    """An object schema whose every property is required and no other is allowed."""
    return {"type": "object", "description": description, "properties": properties,
            "required": list(properties), "additionalProperties": False}


def _field(kind: str | list[str], description: str, **more) -> dict:
    return {"type": kind, "description": description, **more}


_PLACE = {
    "doc": _field("string", "the article's file name inside the documents folder (POSIX style)"),
    "title": _field("string", "the article's title"),
    "source": _field(["string", "null"], "the publisher, when the article names one"),
    "date": _field(["string", "null"], "the publication date (YYYY-MM-DD), when known"),
}
_SPAN = {
    "start": _field("integer", "offset of the sentence's first character in the article text", minimum=0),
    "end": _field("integer", "offset just past its last character: text == article[start:end]", minimum=0),
}
SOURCE_SCHEMA = _object("one place the sentence appears", {**_PLACE, **_SPAN})
HIT_SCHEMA = _object("one quoted sentence, best first", {
    "rank": _field("integer", "position in the answer, from 1", minimum=1),
    "score": _field("number", "ranking score, higher is better; no fixed scale, compare within one result"),
    "text": _field("string", "the sentence, verbatim"),
    **_PLACE,
    "sentence": _field("integer", "the sentence's number in the article, from 1", minimum=1),
    "sentences": _field("integer", "how many sentences the article has", minimum=1),
    "paragraph": _field("integer", "the paragraph's number in the article, from 1", minimum=1),
    **_SPAN,
    "context": _field("string", "the sentence with its neighbours in the paragraph, verbatim"),
    "context_start": _field("integer", "offset of context in the article text", minimum=0),
    "context_before": _field("string", "the part of context before the sentence"),
    "context_after": _field("string", "the part of context after the sentence"),
    "sources": _field("array", "every place the same sentence appears, this one first", items=SOURCE_SCHEMA,
                      minItems=1),
    "answer": {"description": "the phrase inside the sentence that answers the question (a date, an amount ...), "
                              "when it can be told; offsets into the article", "anyOf": [
        _object("the answer phrase", {
            "start": _field("integer", "offset of its first character in the article text", minimum=0),
            "end": _field("integer", "offset just past its last character", minimum=0),
            "text": _field("string", "article[start:end]"),
            "type": _field("string", "what the question asks for: date, duration, money, percent"),
        }),
        {"type": "null"}]},
})
FILTER_SCHEMA = _object("the documents the search was restricted to", {
    "since": _field(["string", "null"], "earliest publication date admitted (YYYY-MM-DD)"),
    "until": _field(["string", "null"], "latest publication date admitted (YYYY-MM-DD)"),
    "sources": _field("array", "publishers admitted (case-insensitive); empty admits all", items={"type": "string"}),
})
RESULT_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "qa search result",
    **_object("the answer to one question: cited sentences, and whether the articles answer it", {
        "schema": {"const": SCHEMA_VERSION,
                   "description": f'always "{SCHEMA_VERSION}"; the number goes up when a field is removed or renamed'},
        "question": _field("string", "the question as searched (cleaned, cut to 2,000 characters)"),
        "found": _field("boolean", "whether the articles answer it; when false the hits are only the nearest sentences"),
        "confidence": _field("number", "the best sentence's answer score, compared with the found threshold (with the opt-in learned ranking, a calibrated probability that the first hit answers)"),
        "mode": {"enum": list(MODES), "description": "the search used: hybrid (dense + BM25), dense or bm25"},
        "truncated": _field("boolean", "whether the question was cut to its first 2,000 characters"),
        "filter": {"anyOf": [FILTER_SCHEMA, {"type": "null"}], "description": "the filter applied, or null"},
        "follow_up_of": _field("array", "earlier questions a follow-up was read after, oldest first; empty if none",
                               items={"type": "string"}),
        "hits": _field("array", "the quoted sentences, best first", items=HIT_SCHEMA),
    }),
}
EVAL_DETAIL_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "qa eval detail: one question of a question file",
    **_object("how one question of a question file was answered", {
        "schema": {"const": EVAL_DETAIL_VERSION, "description": "this shape and its version"},
        "id": _field("string", "the question's id in the file"),
        "doc": _field("string", "the article holding the answer (empty when unanswerable)"),
        "answers": _field("array", "the answer spans in doc; empty for a question the folder cannot answer",
                          items=_object("an answer span", _SPAN)),
        "answer_rank": _field(["integer", "null"], "rank of the first hit holding an answer, or null", minimum=1),
        "correct_ranks": _field("array", "ranks of every hit holding an answer", items={"type": "integer", "minimum": 1}),
        "result": RESULT_SCHEMA,
    }),
}


def source_to_dict(source: Source) -> dict:
    """One place a sentence appears, as plain JSON types (``SOURCE_SCHEMA``)."""
    return {"doc": source.doc, "title": source.title, "source": source.source, "date": source.date,
            "start": source.start, "end": source.end}


def hit_to_dict(hit: Hit) -> dict:
    """A hit as plain JSON types (``HIT_SCHEMA``): the sentence, where it is, its score and context."""
    s = hit.sentence
    return {
        "rank": hit.rank, "score": round(float(hit.score), DECIMALS), "text": hit.text,
        "doc": s.doc, "title": s.title, "source": s.source, "date": s.date,
        "sentence": s.number, "sentences": s.total, "paragraph": s.paragraph, "start": s.start, "end": s.end,
        "context": hit.context, "context_start": hit.context_start,
        "context_before": hit.context_before, "context_after": hit.context_after,
        "sources": [source_to_dict(src) for src in hit.sources],
        "answer": None if hit.answer is None else {"start": hit.answer[0], "end": hit.answer[1], "text": hit.answer_text,
                                                   "type": hit.answer_type},
    }


def filter_to_dict(search_filter: Filter | None) -> dict | None:
    """A filter as plain JSON types (``FILTER_SCHEMA``), or None when nothing was filtered.

    >>> filter_to_dict(Filter(since="2025-01-01")), filter_to_dict(None)
    ({'since': '2025-01-01', 'until': None, 'sources': []}, None)
    """
    if search_filter is None or not search_filter.active:
        return None
    return {"since": search_filter.since, "until": search_filter.until, "sources": list(search_filter.sources)}


def result_to_dict(result: SearchResult, follow_up_of: str | None = None) -> dict:
    """A search result as plain JSON types (``RESULT_SCHEMA``).

    ``follow_up_of`` is ``Turn.follow_up_of``: the earlier questions, one a line, that a
    follow-up was read after (``qa.conversation.ask``).
    """
    return {
        "schema": SCHEMA_VERSION,
        "question": result.question, "found": bool(result.found),
        "confidence": round(float(result.confidence), DECIMALS), "mode": result.mode,
        "truncated": bool(result.truncated), "filter": filter_to_dict(result.filter),
        "follow_up_of": follow_up_questions(follow_up_of),
        "hits": [hit_to_dict(h) for h in result.hits],
    }


def eval_detail_to_dict(result: SearchResult, question_id: str, doc: str, answers: Sequence[tuple[int, int]],
                        correct_ranks: Sequence[int]) -> dict:
    """How one question of a question file was answered (``EVAL_DETAIL_SCHEMA``): the result
    in the one search-result shape, the answer spans, and the ranks of the hits holding one
    (``qa.evaluation.metrics.is_correct`` decides; this module only writes it down).

    >>> from qa import SearchResult
    >>> d = eval_detail_to_dict(SearchResult("Q?", (), False, 0.0, "bm25"), "q1", "a.txt", [(5, 9)], [])
    >>> d["answers"], d["answer_rank"], d["result"]["mode"]
    ([{'start': 5, 'end': 9}], None, 'bm25')
    """
    return {
        "schema": EVAL_DETAIL_VERSION, "id": question_id, "doc": doc,
        "answers": [{"start": start, "end": end} for start, end in answers],
        "answer_rank": min(correct_ranks, default=None), "correct_ranks": list(correct_ranks),
        "result": result_to_dict(result),
    }


def schema_json(schema: dict = RESULT_SCHEMA) -> str:
    """A schema as the text of its .json file (docs/search-result.schema.json is ``schema_json()``).

    >>> schema_json().splitlines()[1]
    '  "$schema": "https://json-schema.org/draft/2020-12/schema",'
    """
    return _json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
