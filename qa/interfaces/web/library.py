"""What the page shows about the index: the header, the documents table, the example
questions and the filter choices — read from the live index every time they are asked for.

Plain Python (no gradio): the page turns these into components.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ...documents.loading import Document

UNKNOWN = "unknown"  # a missing source or date; never guessed (issue 11)
SORTS = {"Newest first": "newest", "Oldest first": "oldest", "Title A–Z": "title", "Source A–Z": "source"}
DEFAULT_SORT = "Newest first"
# A browser table of tens of thousands of rows freezes the tab; the search box finds the rest.
MAX_TABLE_ROWS = 500
# The same bound for the remove and viewer menus, which list articles one by one.
MAX_MENU_DOCS = 500

SEED_TITLE = "Ecuador And Israel"  # the title the bundled seed article starts with
SEED_EXAMPLES = [
    "Who is the president of Ecuador?",
    "What did he say about the hostages?",
    "When did formal diplomatic relations begin?",
    "What defense products has Ecuador bought from Israel?",
    "Why does Ecuador want security cooperation?",
    "What is the capital of France?",
]
# With this many articles or fewer, the seed questions still fit what the library holds;
# past it, questions come from the articles themselves.
FEW_ARTICLES = 3
# Questions made from the newest articles' titles: enough to show what can be asked, few
# enough to stay one row on a laptop.
GENERATED_EXAMPLES = 4


def header_html(docs: Sequence[Document], sentences: int, folder: Path) -> str:
    n = len(docs)
    return (f'<div class="qa-header"><h1>News QA</h1>'
            f'<p>Ask about the articles in <code>{html.escape(folder.name or str(folder))}</code>. '
            f'Every answer quotes them word for word and says where each sentence comes from.</p>'
            f'<p class="qa-stats">{n:,} article{"s" if n != 1 else ""} · {sentences:,} sentences indexed</p></div>')


def _sort_key(kind: str):
    # Undated and unsourced articles go last whichever way the list runs.
    if kind in ("newest", "oldest"):
        return lambda d: (d.date is None, d.date or "", d.title.casefold())
    if kind == "source":
        return lambda d: (d.source is None, (d.source or "").casefold(), d.title.casefold())
    return lambda d: d.title.casefold()


def select(docs: Sequence[Document], query: str = "", sort: str = DEFAULT_SORT) -> list[Document]:
    """The documents whose title, source, date or file name holds every word of ``query``, sorted."""
    words = (query or "").casefold().split() if isinstance(query, str) else []
    chosen = [d for d in docs if all(w in f"{d.title} {d.source or ''} {d.date or ''} {d.path}".casefold() for w in words)]
    kind = SORTS.get(sort, "newest")
    if kind == "newest":
        dated = sorted((d for d in chosen if d.date), key=lambda d: (d.date, d.title.casefold()), reverse=True)
        return dated + sorted((d for d in chosen if not d.date), key=lambda d: d.title.casefold())
    return sorted(chosen, key=_sort_key(kind))


def table_note(shown: int, matched: int, total: int) -> str:
    if matched == total:
        text = f"{total:,} article{'s' if total != 1 else ''}"
    else:
        text = f"{matched:,} of {total:,} articles match"
    if shown < matched:
        text += f"; showing the first {shown:,} — search to narrow it"
    return text + "."


@dataclass(frozen=True)
class Facts:
    """What the filters offer: the indexed sources, the date range, how many have no date."""

    sources: tuple[str, ...]
    oldest: str | None
    newest: str | None
    undated: int


def facts(docs: Sequence[Document]) -> Facts:
    dates = [d.date for d in docs if d.date]
    sources = sorted({d.source for d in docs if d.source}, key=str.casefold)
    return Facts(tuple(sources), min(dates, default=None), max(dates, default=None), len(docs) - len(dates))


def date_info(f: Facts) -> str:
    if not f.newest:
        return "No article has a date yet."
    text = f"Articles are dated {f.oldest} to {f.newest}"
    if f.undated:
        text += f"; {f.undated:,} without a date {'is' if f.undated == 1 else 'are'} left out by a date range"
    return text + "."


def example_questions(docs: Sequence[Document]) -> list[str]:
    """Questions that fit the index: the seed's own while it is among few articles, then
    questions about the newest other articles."""
    seed = [d for d in docs if d.title.startswith(SEED_TITLE)]
    others = [d for d in select(docs) if not d.title.startswith(SEED_TITLE)][:GENERATED_EXAMPLES]
    made = [f"What is “{d.title}” about?" for d in others]
    if seed and len(docs) <= FEW_ARTICLES:
        return SEED_EXAMPLES + made
    return made
