"""Results: what a search returns — typed, frozen, and enough to render a citation alone."""

from __future__ import annotations

from dataclasses import dataclass

from ..documents.filters import Filter
from ..documents.sentences import Sentence


@dataclass(frozen=True)
class Source:
    """One place a sentence appears: the document and the character span in it."""

    doc: str
    title: str
    source: str | None
    date: str | None
    start: int
    end: int


@dataclass(frozen=True)
class Hit:
    """A retrieved sentence with its score, rank (from 1) and surrounding context.

    ``context`` is the verbatim text of the neighbouring sentences of the same paragraph
    around the hit, starting at ``context_start`` in the document; the hit itself lies at
    ``sentence.start - context_start`` in it. ``sources`` lists every document holding the
    same sentence (the first is ``sentence.doc``). ``answer``, when the question asks for a
    date, number, amount, person, place or organisation and the sentence holds one, is the
    answer phrase as (start, end) offsets into the document, with ``answer_type`` its kind.
    """

    sentence: Sentence
    score: float
    rank: int
    context: str
    context_start: int
    sources: tuple[Source, ...]
    answer: tuple[int, int] | None = None
    answer_type: str | None = None

    @property
    def answer_text(self) -> str | None:
        if self.answer is None:
            return None
        start, end = self.answer
        return self.sentence.text[start - self.sentence.start:end - self.sentence.start]

    @property
    def text(self) -> str:
        return self.sentence.text

    @property
    def context_before(self) -> str:
        return self.context[: self.sentence.start - self.context_start]

    @property
    def context_after(self) -> str:
        return self.context[self.sentence.end - self.context_start:]


@dataclass(frozen=True)
class SearchResult:
    """The answer to one search: ranked hits, and whether the corpus likely answers at all."""

    question: str
    hits: tuple[Hit, ...]
    found: bool
    confidence: float
    mode: str
    truncated: bool = False
    filter: Filter | None = None  # the documents the search was restricted to, if any


@dataclass(frozen=True)
class UpdateReport:
    """What an update changed: document paths added, replaced, removed, left alone, and skipped files."""

    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()
    embedded_sentences: int = 0  # sentences encoded by the model (known and repeated ones are reused)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)
