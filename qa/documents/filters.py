"""Filters: which documents a search may quote, by publication date and source.

A ``Filter`` is a predicate over a ``Document``'s metadata. Stores turn it into whatever
their engine filters with (a row mask for FAISS, an expression for Milvus) and apply it
*inside* the search, so ``k`` hits come back whenever ``k`` admissible sentences exist.
A document without a date is kept out by any date bound: "since 2025" cannot be vouched
for by an article whose date is unknown.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Protocol

from ..errors import QueryError


class Dated(Protocol):
    """What a filter reads of a document; a ``Document`` is one. (Not imported from loading:
    loading imports ``dates``, which builds filters, and imports must not go round a cycle.)"""

    @property
    def date(self) -> str | None: ...

    @property
    def source(self) -> str | None: ...


def _iso(value: str | _dt.date | None, name: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, _dt.datetime):
        value = value.date()
    if isinstance(value, _dt.date):
        return value.isoformat()
    if not isinstance(value, str):
        raise QueryError(f"{name} must be a date like 2025-01-31, not {value!r}")
    try:
        return _dt.date.fromisoformat(value.strip()[:10]).isoformat()
    except ValueError:
        raise QueryError(f"{name} {value!r} is not a date; write it as YYYY-MM-DD, e.g. 2025-01-31") from None


@dataclass(frozen=True)
class Filter:
    """Keep only documents dated within ``[since, until]`` (ISO dates, inclusive) and from ``sources``.

    ``sources`` match case-insensitively; an empty tuple admits every source.

    >>> f = Filter(since="2025-01-01", sources=("the rio times",))
    >>> f.since, f.sources, f.describe()
    ('2025-01-01', ('the rio times',), 'since 2025-01-01 · source the rio times')
    >>> Filter(since="2025-13-01")
    Traceback (most recent call last):
    ...
    qa.errors.QueryError: since '2025-13-01' is not a date; write it as YYYY-MM-DD, e.g. 2025-01-31
    """

    since: str | None = None
    until: str | None = None
    sources: tuple[str, ...] = ()

    def __post_init__(self):
        since, until = _iso(self.since, "since"), _iso(self.until, "until")
        if since and until and since > until:
            raise QueryError(f"since {since} is after until {until}; swap them")
        sources = self.sources
        if isinstance(sources, str):
            sources = (sources,)
        cleaned = tuple(dict.fromkeys(" ".join(str(s).split()) for s in (sources or ()) if str(s).strip()))
        object.__setattr__(self, "since", since)
        object.__setattr__(self, "until", until)
        object.__setattr__(self, "sources", cleaned)

    @property
    def active(self) -> bool:
        return bool(self.since or self.until or self.sources)

    @property
    def dated(self) -> bool:
        """Whether the filter bounds dates (and so keeps undated documents out)."""
        return bool(self.since or self.until)

    def admits(self, doc: Dated) -> bool:
        """Whether ``doc`` may be quoted under this filter."""
        if self.dated:
            if not doc.date:
                return False
            if (self.since and doc.date < self.since) or (self.until and doc.date > self.until):
                return False
        if self.sources:
            wanted = {s.casefold() for s in self.sources}
            if (doc.source or "").casefold() not in wanted:
                return False
        return True

    def describe(self) -> str:
        """The filter in words, for a "filtered: ..." note; empty when inactive."""
        parts = []
        if self.since and self.until:
            parts.append(f"{self.since} to {self.until}")
        elif self.since:
            parts.append(f"since {self.since}")
        elif self.until:
            parts.append(f"until {self.until}")
        if self.sources:
            parts.append(("source " if len(self.sources) == 1 else "sources ") + ", ".join(self.sources))
        return " · ".join(parts)


NO_FILTER = Filter()
