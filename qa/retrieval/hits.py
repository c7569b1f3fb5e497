"""Hits: a ranked row of the corpus turned into a ``Hit`` with its context and every source."""

from __future__ import annotations

from ..ranking.features import Features
from .answers import answer_phrase, asked_kind
from .results import Hit, Source


def make_hit(features: Features, row: int, score: float, rank: int, duplicates: tuple[int, ...],
             window: int = 1, question: str | None = None) -> Hit:
    """The ``Hit`` for ``row``: its sentence, ``window`` neighbours of its paragraph each side
    as context, a ``Source`` for every row holding the same text (``duplicates``) and, given
    the ``question``, the answer phrase inside the sentence (``qa.retrieval.answers``)."""
    corpus = features.corpus
    sentence = corpus.sentence(row)
    p_start, p_end = (int(a[row]) for a in features.paragraphs)
    lo, hi = max(p_start, row - window), min(p_end, row + window + 1)
    doc = corpus.documents[int(corpus.spans[row, 0])]
    c_start, c_end = int(corpus.spans[lo, 1]), int(corpus.spans[hi - 1, 2])
    sources = []
    for r in (row, *[d for d in duplicates if d != row]):
        s = corpus.sentence(r) if r != row else sentence
        sources.append(Source(s.doc, s.title, s.source, s.date, s.start, s.end))
    answer, kind = None, asked_kind(question) if question else None
    phrase = answer_phrase(sentence.text, question, kind) if kind else None
    if phrase is not None:
        answer = (sentence.start + phrase[0], sentence.start + phrase[1])
    return Hit(sentence=sentence, score=float(score), rank=rank, context=doc.text[c_start:c_end],
               context_start=c_start, sources=tuple(sources), answer=answer, answer_type=kind if answer else None)
