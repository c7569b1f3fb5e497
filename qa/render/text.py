"""Text: a search result as Markdown-friendly plain text — what ``qa ask`` prints, and what a
"copy as Markdown" button copies.

It reads well in a terminal as it is and renders as Markdown unchanged: notes in italics,
the quoted sentences as a block quote, one list item per citation (title, source, date,
where in the article, match strength). Sentences are quoted verbatim; pass ``escape=True``
when the text goes into a Markdown renderer, so characters in the articles show as typed.

>>> from qa import Retriever
>>> result = Retriever.from_directory("seeds").search("When did formal diplomatic relations begin?", k=1)
>>> print(format_result(result).splitlines()[2])
> [1] “Formal diplomatic relations began in 1949.”
"""

from __future__ import annotations

import re

from ..retrieval import Hit, SearchResult
from .citation import VERDICTS, best_score, follow_up_questions, match_label, quoted, source_line, verdict, where

_SPACES = re.compile(r"\s+")
# Characters that start inline Markdown (emphasis, code, links, HTML, tables, maths) or an
# entity; escaped, they show as typed. Block markers (#, -, 1.) cannot occur: no quoted text
# starts a line here.
_MARKDOWN_INLINE = re.compile(r"([\\`*_\[\]<>~|&$])")


def format_result(result: SearchResult, follow_up_of: str | None = None, escape: bool = False,
                  threshold: float | None = None, scores: bool = True, sure: float | None = None) -> str:
    """A search result as text: notes, the quoted sentences, then one line per citation.

    ``follow_up_of`` is ``Turn.follow_up_of`` (the earlier questions, one a line). When
    ``result.found`` is False the text says so first and lists the hits as "possibly related".
    ``scores=False`` leaves the numbers out and says the verdict instead (``citation.verdict``
    against the found ``threshold``): what the chat's copy buttons copy.

    >>> from qa import SearchResult
    >>> format_result(SearchResult("Anything?", (), False, 0.0, "hybrid"))
    'No documents are indexed yet: add articles to the documents folder, then ask again.'
    """
    show = _escaper(escape)
    lines = []
    earlier = follow_up_questions(follow_up_of)
    if earlier:
        lines.append("_Read as a follow-up to " + " / ".join(f"“{show(q)}”" for q in earlier) + "._")
    if result.truncated:
        lines.append("_The question was long, so only its first 2,000 characters were searched._")
    if result.filter is not None and result.filter.active:
        lines.append(f"_Searched only articles matching: {show(result.filter.describe())}._")
    if lines:
        lines.append("")
    if not result.hits:
        if result.filter is not None and result.filter.active:
            return "\n".join(lines + ["No indexed article matches the filter."])
        return "\n".join(lines + ["No documents are indexed yet: add articles to the documents folder, then ask again."])
    best = best_score(result)
    if not scores:
        lines += [f"**{VERDICTS[verdict(result.found, result.confidence, threshold, sure)]}.**", ""]
    if result.found:
        lines += ["The articles say:", ""]
        lines += "\n>\n".join(f"> [{h.rank}] {quoted(show(h.text))}" for h in result.hits).split("\n")
        lines += ["", "Sources:", ""]
        lines += [f"- {citation_line(h, escape, match_label(h.score, best) + ' match', scores=scores)}" for h in result.hits]
    else:
        if scores:
            lines += [f"**The documents do not answer this question.** No sentence matches it closely "
                      f"(best similarity {result.confidence:.2f}).", ""]
        lines += ["Possibly related — nearest sentences, not an answer:", ""]
        lines += [f"- {citation_line(h, escape, quote=True, scores=scores)}" for h in result.hits]
    return "\n".join(lines)


def citation_line(hit: Hit, escape: bool = False, strength: str | None = None, quote: bool = False,
                  scores: bool = True) -> str:
    """One citation: ``[rank] title · source · date — where; file, chars; strength, score``.

    ``strength`` is a label like "strong match" (None leaves it out); ``quote`` puts the
    sentence itself after the rank; ``escape`` as in ``format_result``; ``scores=False``
    ends the line after the file (no strength, no score).
    """
    show = _escaper(escape)
    s = hit.sentence
    said = f"{quoted(show(hit.text))} — " if quote else ""
    line = f"[{hit.rank}] {said}{show(source_line(s.title, s.source, s.date))} — {where(hit)}; {show(s.doc)}"
    if scores:
        line += f", chars {s.start}-{s.end}; {strength + ', ' if strength else ''}score {hit.score:.2f}"
    if len(hit.sources) > 1:
        line += "; also in " + ", ".join(show(src.title) for src in hit.sources[1:])
    return line


def escape_markdown(text: str) -> str:
    """Text that a Markdown renderer shows as typed: inline syntax backslash-escaped, spaces collapsed.

    >>> print(escape_markdown("*bold* <b> [x](y)"))
    \\*bold\\* \\<b\\> \\[x\\](y)
    """
    return _MARKDOWN_INLINE.sub(r"\\\1", _SPACES.sub(" ", text))


def _escaper(escape: bool):
    return escape_markdown if escape else (lambda text: _SPACES.sub(" ", text))
