"""HTML: a SearchResult as the chat shows it — the answer, its citation cards, the article viewer.

Every piece of document text goes through ``html.escape`` before it lands in HTML, so an
article holding ``<script>`` shows the characters and never runs them. Offsets are the
library's exact character offsets into ``Document.text``; nothing here searches.

The same answer as text (the CLI, "copy as Markdown") is ``qa.render.text``; for programs
it is ``qa.render.json``.

>>> from qa import Retriever
>>> result = Retriever.from_directory("seeds").search("When did formal diplomatic relations begin?", k=1)
>>> "Formal diplomatic relations began in 1949." in answer_html(result)
True
"""

from __future__ import annotations

import html
import re
from typing import Sequence
from urllib.parse import quote, unquote

from ..documents.loading import Document
from ..retrieval import Hit, SearchResult
from ..documents.dates import relative_dates
from ..ranking.answertype import asked_type
from .citation import VERDICTS, follow_up_questions, quoted, scores_line, verdict, where

_SPACES = re.compile(r"\s+")
# Control characters and invisible bidirectional/format marks: a typed question shows
# without them, so it cannot reorder or hide the text displayed after it.
_INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$&])")
REF_PREFIX = "#source/"

# Styles for the classes this module emits; the app adds them to its page.
STYLESHEET = """
.qa-answer p { margin: .25rem 0; }
.qa-answer .qa-copy { display: none; }
.qa-answer .qa-note { font-size: .85rem; color: var(--body-text-color-subdued); font-style: italic; }
.qa-answer .qa-lead { margin-bottom: .4rem; }
.qa-answer .qa-none { color: var(--error-text-color, #b91c1c); }
.qa-quotes { border-left: 3px solid var(--color-accent); padding-left: .7rem; margin: .3rem 0 .6rem; }
.qa-quote { font-size: 1.02rem; }
.qa-answer a.qa-n { font-weight: 600; text-decoration: none; margin-right: .15rem; }
.qa-answer .qa-heading { margin-top: .7rem; font-size: .8rem; font-weight: 600; text-transform: uppercase;
  letter-spacing: .04em; color: var(--body-text-color-subdued); }
.qa-cite { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: .45rem .65rem; margin: .4rem 0;
  background: var(--background-fill-secondary); }
.qa-cite-related { opacity: .85; border-style: dashed; }
.qa-cite-meta, .qa-also, .qa-open-line { font-size: .82rem; color: var(--body-text-color-subdued); }
.qa-context { font-size: .9rem; line-height: 1.45; }
.qa-cite-head { font-size: .95rem; }
.qa-answer mark, .qa-article mark { background: #fde68a; color: #111827; border-radius: 3px; padding: 0 .1rem; }
.qa-answer mark.qa-answer-phrase { background: #f59e0b; color: #111827; font-weight: 600; }
.qa-verdict { display: inline-block; border-radius: 999px; padding: .05rem .6rem; font-weight: 600; margin: .2rem 0; }
.qa-verdict-answers { background: #dcfce7; color: #166534; }
.qa-verdict-may { background: #fef9c3; color: #854d0e; }
.qa-verdict-related { background: #f3f4f6; color: #4b5563; }
.qa-when { font-size: .88rem; color: #075985; white-space: nowrap; }
.qa-scores { font-size: .8rem; color: var(--body-text-color-subdued); margin-top: .4rem; }
.qa-scores summary { cursor: pointer; }
.qa-answer a.qa-unfilter { font-style: normal; font-weight: 600; text-decoration: none; margin-left: .3rem; }
.qa-article-head h3 { margin: 0 0 .2rem; font-size: 1.1rem; }
.qa-article-meta, .qa-legend { margin: 0 0 .3rem; font-size: .85rem; color: var(--body-text-color-subdued); }
.qa-article-text { position: relative; white-space: pre-wrap; line-height: 1.55; font-size: .93rem;
  max-height: 560px; overflow-y: auto; padding: .6rem .8rem; border: 1px solid var(--border-color-primary);
  border-radius: 8px; background: var(--background-fill-secondary); }
.qa-article mark.qa-focus { background: #fbbf24; outline: 2px solid #d97706; }
.qa-hl-n { font-weight: 700; margin-right: .15rem; color: #92400e; }
.qa-empty { color: var(--body-text-color-subdued); padding: 1rem; }
"""


def esc(text: str | None) -> str:
    """HTML-escape ``text`` (quotes too) with runs of whitespace made one space.

    Collapsing newlines keeps an answer one HTML block, which the chat's Markdown renderer
    then leaves alone (a blank line would end the block and let Markdown in).

    >>> esc('<b>"Hi"</b>\\n\\n  there')
    '&lt;b&gt;&quot;Hi&quot;&lt;/b&gt; there'
    """
    return html.escape(_SPACES.sub(" ", text or ""), quote=True)


def _as_typed(text: str) -> str:
    """Text shown as typed by the chat's Markdown-and-HTML renderer: HTML and Markdown syntax escaped.

    >>> print(_as_typed("*hi* <b>"))
    \\*hi\\* &lt;b&gt;
    """
    # Escape HTML first, then hide the entities' "&" from the Markdown pass so "&lt;" survives.
    escaped = html.escape(text.replace("\x00", ""), quote=False).replace("&", "\x00")
    return _MARKDOWN_SPECIAL.sub(r"\\\1", escaped).replace("\x00", "&")


def source_ref(hit: Hit) -> str:
    """The link a citation carries to open its article: ``#source/<doc>/<start>``."""
    return f"{REF_PREFIX}{quote(hit.sentence.doc, safe='')}/{hit.sentence.start}"


def parse_source_ref(ref: str) -> tuple[str, int] | None:
    """``(doc, start)`` from a ``source_ref`` link, or None if it is not one.

    >>> parse_source_ref("#source/a%2Fb.txt/42"), parse_source_ref("javascript:alert(1)")
    (('a/b.txt', 42), None)
    """
    if not isinstance(ref, str) or not ref.startswith(REF_PREFIX):
        return None
    doc, _, start = ref[len(REF_PREFIX):].rpartition("/")
    if not doc or not start.isdigit():
        return None
    return unquote(doc), int(start)


def citation_label(hit: Hit) -> str:
    """A one-line name for a citation, as in a menu: ``[2] Title — sentence 25 of 27``."""
    s = hit.sentence
    return f"[{hit.rank}] {s.title} — sentence {s.number} of {s.total}"


# -- chat answers -----------------------------------------------------------------------

def answer_html(result: SearchResult, follow_up_of: str | None = None, threshold: float | None = None,
                notes: Sequence[str] = (), copy_text: str | None = None, extra_html: str = "",
                sure: float | None = None) -> str:
    """The chat's answer: a verdict, numbered verbatim quotes, then one card per citation.

    The verdict ("answers the question / may answer / related only", ``citation.verdict``
    against the retriever's found ``threshold`` and its ``sure`` yardstick) is the one measure shown; the raw scores
    sit in a closed "Scores" details. When ``result.found`` is False the answer says so
    first, and any sentences shown are marked "possibly related". ``notes`` are extra lines
    from the app (plain text, escaped here); ``extra_html`` is markup the app built (a
    "remove the date range" link). ``copy_text`` rides along (hidden) for the copy buttons.
    The HTML is one line (see ``esc``).
    """
    # The chat's sanitizer drops data-* attributes but keeps title: the text rides in the title
    # of an empty, hidden span (no tooltip can show), its newlines as entities (one HTML line).
    copy = (f'<span class="qa-copy" title="{html.escape(copy_text, quote=True).replace(chr(10), "&#10;")}"></span>'
            if copy_text else "")
    parts = ['<div class="qa-answer">', copy]
    earlier = follow_up_questions(follow_up_of)
    if earlier:
        parts.append(f'<p class="qa-note">Read as a follow-up to {" / ".join(f"“{esc(q)}”" for q in earlier)}.</p>')
    if result.truncated:
        parts.append('<p class="qa-note">Your question was long, so only its beginning was searched.</p>')
    filtered = result.filter is not None and result.filter.active
    if filtered:
        parts.append(f'<p class="qa-note qa-filtered">Filtered: {esc(result.filter.describe())}.</p>')
    parts.extend(f'<p class="qa-note">{esc(note)}</p>' for note in notes)
    parts.append(extra_html)
    if not result.hits and filtered:
        parts.append('<p class="qa-lead"><strong>No indexed article matches the filter.</strong></p></div>')
        return "".join(parts)
    if not result.hits:
        parts.append('<p class="qa-lead"><strong>No documents are indexed yet.</strong> '
                     'Add an article in the Documents tab, then ask again.</p></div>')
        return "".join(parts)
    key = verdict(result.found, result.confidence, threshold, sure)
    parts.append(f'<p class="qa-verdict qa-verdict-{key}">{esc(VERDICTS[key])}</p>')
    when = asked_type(result.question) == "time"
    if result.found:
        parts.append('<p class="qa-lead">The articles say:</p><div class="qa-quotes">')
        for hit in result.hits:
            parts.append(f'<p class="qa-quote"><a class="qa-n" href="{source_ref(hit)}" title="Open in the source viewer">'
                         f'[{hit.rank}]</a> {_quote_html(hit)}{_resolved_dates(hit) if when else ""}</p>')
        parts.append("</div>")
        heading = "Sources"
    else:
        parts.append('<p class="qa-lead qa-none"><strong>The documents do not answer this question.</strong> '
                     'No sentence matches it closely.</p>')
        heading = "Possibly related — nearest sentences, not an answer"
    parts.append(f'<p class="qa-heading">{heading}</p>')
    parts.extend(citation_html(hit, related=not result.found) for hit in result.hits)
    parts.append(f'<details class="qa-scores"><summary>Numbers behind this</summary><p>{esc(scores_line(result, threshold))}</p></details>')
    parts.append("</div>")
    return "".join(parts)


def _sentence_html(hit: Hit) -> str:
    """The sentence, escaped, with the answer phrase (``hit.answer``, document offsets) marked."""
    text, span = hit.text, getattr(hit, "answer", None)
    if span is None:
        return esc(text)
    a, b = span[0] - hit.sentence.start, span[1] - hit.sentence.start
    if not 0 <= a < b <= len(text):  # a span outside the sentence: show the sentence unmarked
        return esc(text)
    return f'{esc(text[:a])}<mark class="qa-answer-phrase">{esc(text[a:b])}</mark>{esc(text[b:])}'


def _quote_html(hit: Hit) -> str:
    """The sentence in quotation marks (unless it carries its own), answer phrase marked."""
    inner = _sentence_html(hit)
    return inner if quoted(hit.text) == hit.text else f"“{inner}”"


def _resolved_dates(hit: Hit) -> str:
    """For a "when" question: the days that "on Sunday", "yesterday" ... name, from the article's date."""
    found = relative_dates(hit.text, hit.sentence.date)
    if not found:
        return ""
    days = "; ".join(f"{esc(r.text)} = {r.date.day} {r.date:%B %Y}" for r in found)
    return (f' <span class="qa-when" title="counted from the article\'s date, {esc(hit.sentence.date)}">'
            f'({days})</span>')


def citation_html(hit: Hit, best: float | None = None, related: bool = False) -> str:
    """One citation card: where the sentence comes from and its context.

    The card shows no score (the answer's verdict is the measure); ``best``, the best score
    among the answer's hits, only goes into the hover text with the hit's own score.
    """
    s = hit.sentence
    raw = f"retrieval score {hit.score:.2f}" + (f"; the best sentence for this question scored {best:.2f}" if best is not None else "")
    also = ""
    if len(hit.sources) > 1:
        others = ", ".join(esc(src.title) for src in hit.sources[1:])
        also = f'<p class="qa-also">The same sentence also appears in: {others}</p>'
    return (f'<div class="qa-cite{" qa-cite-related" if related else ""}">'
            f'<p class="qa-cite-head"><a class="qa-n" href="{source_ref(hit)}" title="Open in the source viewer">[{hit.rank}]</a> '
            f'<strong>{esc(s.title)}</strong>{" · " + esc(s.source) if s.source else ""}{" · " + esc(s.date) if s.date else ""}</p>'
            f'<p class="qa-cite-meta" title="{esc(raw)}">{where(hit)}{" · possibly related" if related else ""}</p>'
            f'<p class="qa-context">{esc(hit.context_before)}<mark>{_sentence_html(hit)}</mark>{esc(hit.context_after)}</p>'
            f'{also}<p class="qa-open-line"><a class="qa-open" href="{source_ref(hit)}">Open the whole article ›</a></p></div>')


def question_html(question: str, shown_chars: int | None = None, note: str = "") -> str:
    """A user's question as the chat shows it: as typed, nothing interpreted, control marks dropped.

    ``shown_chars`` cuts a long question for display (with "…"); ``note`` (plain text) follows
    it in italics, e.g. how much of it was searched.

    >>> print(question_html("A very long question", shown_chars=6, note="cut"))
    A very… _\\(cut\\)_
    """
    text = _SPACES.sub(" ", _INVISIBLE.sub("", question)).strip()
    out = _as_typed(text[:shown_chars].rstrip()) + "…" if shown_chars is not None and len(text) > shown_chars else _as_typed(text)
    return f"{out} _{_as_typed(f'({note})')}_" if note else out


def short(text: str, most: int) -> str:
    """``text`` cut to ``most`` characters with "…", whitespace collapsed (for notes and labels).

    >>> short("What did he say about the hostages?", 12)
    'What did he…'
    """
    text = _SPACES.sub(" ", text).strip()
    return text if len(text) <= most else text[:most - 1].rstrip() + "…"


# -- the source viewer ------------------------------------------------------------------

def article_html(doc: Document, hits: Sequence[Hit] = (), focus: int | None = None, note: str = "") -> str:
    """The whole article with the sentences of ``hits`` (those in ``doc``) highlighted.

    ``focus`` is the start offset of the citation to emphasise (it gets class ``qa-focus``).
    Highlights use the hits' exact offsets into ``doc.text``.
    """
    marks = sorted({(h.sentence.start, h.sentence.end, h.rank) for h in hits if h.sentence.doc == doc.path})
    begin = min([doc.body_start, *(m[0] for m in marks)])
    out, pos = [], begin
    for start, end, rank in marks:
        if start < pos:  # two hits on one span (cannot happen today; never garble the text)
            continue
        cls = "qa-hl qa-focus" if start == focus else "qa-hl"
        out.append(html.escape(doc.text[pos:start]))
        out.append(f'<mark class="{cls}"><sup class="qa-hl-n">[{rank}]</sup>{html.escape(doc.text[start:end])}</mark>')
        pos = end
    out.append(html.escape(doc.text[pos:]))
    meta = " · ".join(esc(x) for x in (doc.source, doc.date) if x)
    legend = f'<p class="qa-legend">{esc(note)}</p>' if note else ""
    return (f'<div class="qa-article"><div class="qa-article-head"><h3>{esc(doc.title)}</h3>'
            f'<p class="qa-article-meta">{meta}{" · " if meta else ""}file <code>{esc(doc.path)}</code></p>{legend}</div>'
            f'<div class="qa-article-text">{"".join(out)}</div></div>')


def viewer_placeholder(message: str) -> str:
    return f'<div class="qa-article qa-empty"><p>{esc(message)}</p></div>'
