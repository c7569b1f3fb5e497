"""Query: a question parsed once — clean text, tokens, word pairs, asked-for type, filter.

Every ranking signal reads the ``Query``; none goes back to the raw string, so a hybrid
search tokenizes and stems its question exactly once (tests/ranking/test_query.py).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property

from ..documents.filters import Filter
from ..errors import QueryError
from . import lexical
from .answertype import asked_type

# Longer questions are cut: a pasted article is not a question, and encoding time grows with length.
MAX_QUESTION_CHARS = 2000
# Terminal escape sequences (colours, cursor moves) pasted along with a question are control
# data, not words: drop them whole, not just their ESC byte.
_TERMINAL_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|[@-Z\\-_])")


def clean_question(question: str) -> tuple[str, bool]:
    """Drop control and bidirectional-format characters, collapse spaces, cut to the limit.

    >>> clean_question("  When\\tdid it\\x1b[31m begin? ")
    ('When did it begin?', False)
    """
    if not isinstance(question, str):
        raise QueryError("the question must be text")
    if question.isprintable():  # no control, format or separator character but the space: nothing to drop
        kept = question
    else:  # a character at a time: a few hundred microseconds for a long question
        question = _TERMINAL_ESCAPE.sub("", question)
        kept = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c
                       for c in question if unicodedata.category(c) != "Cf")
    text = " ".join(kept.split())
    if not text:
        raise QueryError("the question is empty; type a question about the documents")
    truncated = len(text) > MAX_QUESTION_CHARS
    return text[:MAX_QUESTION_CHARS], truncated


@dataclass(frozen=True)
class Query:
    """One question, parsed once.

    ``tokens`` are the stemmed, stopword-free words in order (repeats kept), ``words`` the
    distinct ones, ``pairs`` the adjacent token pairs, ``answer_type`` what it asks for
    (``qa.ranking.answertype.asked_type``) and ``filter`` which documents may answer.

    >>> q = Query.parse("When did formal diplomatic relations begin?")
    >>> q.tokens, q.answer_type
    (('formal', 'diplomat', 'relat', 'begin'), 'time')
    """

    text: str
    tokens: tuple[str, ...]
    answer_type: str | None = None
    truncated: bool = False
    filter: Filter | None = None
    _ids: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def parse(cls, question: str, filter: Filter | None = None) -> "Query":
        text, truncated = clean_question(question)
        return cls(text, tuple(lexical.tokenize(text)), asked_type(text), truncated,
                   filter if filter is not None and filter.active else None)

    @cached_property
    def words(self) -> frozenset[str]:
        return frozenset(self.tokens)

    @cached_property
    def pairs(self) -> frozenset[tuple[str, str]]:
        return frozenset(zip(self.tokens, self.tokens[1:]))

    def ids(self, index: "lexical.Lexical") -> list[int]:
        """The tokens' ids in ``index``'s vocabulary (order and repeats kept), looked up once per index."""
        key = id(index)
        cached = self._ids.get(key)
        if cached is None or cached[0] is not index:
            cached = self._ids[key] = (index, index.ids(self.tokens))
        return cached[1]

    def distinct_ids(self, index: "lexical.Lexical") -> list[int]:
        return sorted(set(self.ids(index)))
