"""What each control of the chat does: one ``Handlers`` per running app, shared by every session.

Everything a page shows about the index (header, table, menus, filters, examples) comes
from ``refresh``, read from the live index; ``generation`` counts the changes, so a page
polling ``refresh_if_changed`` picks up what another session uploaded or removed.
"""

from __future__ import annotations

import itertools
import threading
from pathlib import Path
from urllib.parse import quote, unquote

import gradio as gr

from ...conversation import Turn, ask
from ...documents.dates import period_label, question_without, recency_filter
from ...documents.filters import Filter
from ...errors import QAError
from ...ranking import MODES
from ...ranking.query import MAX_QUESTION_CHARS
from ...render import html as render
from ...render.json import result_to_dict
from ...render.text import format_result
from ...retrieval import Retriever
from ...uploads import MAX_UPLOAD_BYTES, remove_document
from . import library
from .messages import message, status_html
from .uploading import upload_files

DEFAULT_K = 3
MAX_K = 20
KEEP_TURNS = 50  # answers per session whose citations the viewer can still highlight
DOC_PREFIX = "#doc/"
REDO_PREFIX = "#redo/"
VIEWER_HINT = "Ask a question, then pick a citation to read the whole article here."
# A question this long is shown cut in the chat bubble (the whole text was typed by the
# person; the chat only needs to remind them which one it was).
SHOWN_QUESTION_CHARS = 300
VIEWER_QUESTION_CHARS = 120  # the question quoted in the viewer's one-line legend


def _error(err: QAError) -> gr.Error:
    return gr.Error(message(str(err)), print_exception=False)


READ_ONLY = "this chat is read-only: articles cannot be added or removed here"

class Handlers:
    """What each control does; one instance per running app, shared by all sessions."""

    def __init__(self, retriever: Retriever, docs_dir: str | Path, max_upload_bytes: int = MAX_UPLOAD_BYTES,
                 read_only: bool = False):
        self.retriever = retriever
        self.docs_dir = Path(docs_dir)
        self.max_upload_bytes = max_upload_bytes
        # Read-only refuses here, in the handlers, not only by hiding buttons: Gradio runs an
        # event for anyone who POSTs to it (qa/interfaces/sharing.py).
        self.read_only = read_only
        self.generation = 0  # goes up with every change to the index made through the app
        self._count = itertools.count(1)  # numbers each question, for "ask again without the date range"
        self._changes = threading.Lock()

    def changed(self) -> None:
        with self._changes:
            self.generation += 1

    # -- reading ------------------------------------------------------------------------

    def header(self) -> str:
        return library.header_html(self.retriever.documents, len(self.retriever), self.docs_dir)

    def document_rows(self, query: str = "", sort: str = library.DEFAULT_SORT) -> list[list]:
        chosen = library.select(self.retriever.documents, query, sort)[:library.MAX_TABLE_ROWS]
        return [[d.title, d.source or library.UNKNOWN, d.date or library.UNKNOWN, self.retriever.sentence_count(d.path), d.path]
                for d in chosen]

    def documents_view(self, query: str = "", sort: str = library.DEFAULT_SORT):
        """The table, its note and the remove menu for a search of the Documents tab."""
        docs = self.retriever.documents
        chosen = library.select(docs, query, sort)
        rows = self.document_rows(query, sort)
        menu = [(f"{d.title} ({d.path})", d.path) for d in chosen[:library.MAX_MENU_DOCS]]
        return rows, library.table_note(len(rows), len(chosen), len(docs)), gr.update(choices=menu, value=None)

    def viewer_choices(self, turn: Turn | None) -> list[tuple[str, str]]:
        cited = [(render.citation_label(h), render.source_ref(h)) for h in turn.result.hits] if turn else []
        docs = [(f"{d.title} ({d.path})", DOC_PREFIX + quote(d.path, safe=""))
                for d in self.retriever.documents[:library.MAX_MENU_DOCS]]
        return cited + docs

    def refresh(self, query: str = "", sort: str = library.DEFAULT_SORT, turns: list[Turn] | None = None):
        """Everything the page shows about the index, from the live index:
        (header, table, table note, remove menu, viewer menu, sources, since, until, examples, generation)."""
        generation = self.generation
        facts = library.facts(self.retriever.documents)
        rows, note, remove_menu = self.documents_view(query, sort)
        info = library.date_info(facts)
        return (self.header(), rows, note, remove_menu,
                gr.update(choices=self.viewer_choices(turns[-1] if turns else None)),
                gr.update(choices=list(facts.sources)),
                gr.update(placeholder=facts.oldest or "YYYY-MM-DD", info=info),
                gr.update(placeholder=facts.newest or "YYYY-MM-DD"),
                _examples(library.example_questions(self.retriever.documents)),
                generation)

    def refresh_if_changed(self, seen: int | None, query: str = "", sort: str = library.DEFAULT_SORT,
                           turns: list[Turn] | None = None):
        """``refresh`` when the index changed since the page last read it, else nothing."""
        if seen == self.generation:
            return (gr.skip(),) * 10
        return self.refresh(query, sort, turns)

    def view(self, choice: str | None, turns: list[Turn] | None) -> str:
        """The source viewer for a citation link or a document choice."""
        turns = turns or []
        if not isinstance(choice, str) or not choice:
            return render.viewer_placeholder(VIEWER_HINT)
        focus = None
        ref = render.parse_source_ref(choice)
        if ref is not None:
            path, focus = ref
        elif choice.startswith(DOC_PREFIX):
            path = unquote(choice[len(DOC_PREFIX):])
        else:
            return render.viewer_placeholder("Pick a citation or an article from the list.")
        try:
            doc = self.retriever.document(path)
        except QAError:
            return render.viewer_placeholder("That article is no longer indexed.")
        turn = _citing_turn(turns, path, focus)
        if turn is None:
            return render.article_html(doc, note=f"{self.retriever.sentence_count(path)} sentences.")
        cited = [h for h in turn.result.hits if h.sentence.doc == path]
        kind = "cited" if turn.result.found else "possibly related to"
        return render.article_html(doc, cited, focus=focus if focus is not None else cited[0].sentence.start,
                                   note=f"Highlighted: the sentences {kind} “{render.short(turn.question, VIEWER_QUESTION_CHARS)}”.")

    def threshold(self, mode: str) -> float | None:
        """The confidence at which the retriever says "found" in ``mode`` (the verdict's yardstick)."""
        fusion = getattr(self.retriever, "fusion", None)
        return fusion.threshold(mode) if fusion is not None else None

    def sure(self, mode: str) -> float | None:
        """The confidence from which a found answer "answers the question" (None: the render's margin)."""
        fusion = getattr(self.retriever, "fusion", None)
        return fusion.sure(mode) if fusion is not None else None

    # -- events -------------------------------------------------------------------------

    def respond(self, question: str, history: list | None, turns: list[Turn] | None, k: float = DEFAULT_K,
                mode: str = "hybrid", since: str = "", until: str = "", sources=None, asked: list | None = None):
        """Answer a chat question: (cleared box, chat, turns, viewer, citation menu, asked).

        ``since``/``until``/``sources`` are the filter the person picked; without a picked date
        range, recency words in the question ("latest", "in May 2025") pick one, and the answer
        offers to ask again without it. ``asked`` keeps what is needed to do that.
        """
        if not isinstance(question, str) or not question.strip():
            gr.Warning("Type a question about the articles first.")
            return (gr.skip(),) * 6
        mode = mode if mode in MODES else "hybrid"
        try:
            picked = Filter(since=since or None, until=until or None, sources=tuple(sources or ()))
        except QAError as err:
            raise _error(err) from None
        return self._answer(question, list(history or []), list(turns or []), k, mode, picked, list(asked or []),
                            recency=not picked.dated, previous=turns[-1] if turns else None)

    def redo(self, ref: str, history: list | None, turns: list[Turn] | None, k: float = DEFAULT_K,
             mode: str = "hybrid", asked: list | None = None):
        """"× remove the date range": ask an earlier question again without its recency filter."""
        asked = list(asked or [])
        number = ref[len(REDO_PREFIX):] if isinstance(ref, str) and ref.startswith(REDO_PREFIX) else ""
        entry = next((a for a in asked if str(a["n"]) == number), None)
        if entry is None:
            gr.Warning("That question is no longer in this chat; ask it again.")
            return (gr.skip(),) * 6
        return self._answer(entry["question"], list(history or []), list(turns or []), entry["k"], entry["mode"],
                            entry["filter"], asked, recency=False, previous=entry["previous"])

    def _answer(self, question, history, turns, k, mode, picked: Filter, asked, recency: bool, previous):
        facts = library.facts(self.retriever.documents)
        searched, used, phrase = question, picked, ""
        if recency:
            found, phrase = recency_filter(question, facts.newest, facts.oldest)
            if found is not None:
                used = Filter(since=found.since, until=found.until, sources=picked.sources)
                searched = question_without(question, phrase)
        try:
            turn = ask(self.retriever, searched, previous, k=_int(k, DEFAULT_K, MAX_K), mode=mode,
                       filter=used if used.active else None)
        except QAError as err:
            raise _error(err) from None
        n = next(self._count)
        asked = [*asked[-(KEEP_TURNS - 1):], {"n": n, "question": question, "k": k, "mode": mode, "filter": picked,
                                              "previous": previous}]
        notes, extra = [], ""
        if phrase:
            extra = (f'<p class="qa-note qa-recency">Read “{render.esc(phrase)}” as {render.esc(period_label(used))}, '
                     f'counted from the newest article ({render.esc(facts.newest)}).'
                     f'<a class="qa-unfilter" href="{REDO_PREFIX}{n}" title="Ask again over every date">× remove the date range</a></p>')
        if used.dated and facts.undated:
            notes.append(f"{facts.undated:,} article{'s' if facts.undated != 1 else ''} without a date "
                         f"{'was' if facts.undated == 1 else 'were'} left out by the date range.")
        threshold, sure = self.threshold(mode), self.sure(mode)
        copy = format_result(turn.result, turn.follow_up_of, escape=True, threshold=threshold, scores=False, sure=sure)
        turns = [*turns[-(KEEP_TURNS - 1):], turn]
        history += [{"role": "user", "content": self._question_bubble(question, turn)},
                    {"role": "assistant", "content": render.answer_html(turn.result, turn.follow_up_of, threshold,
                                                                        notes, copy_text=copy, extra_html=extra,
                                                                        sure=sure)}]
        first = render.source_ref(turn.result.hits[0]) if turn.result.hits else None
        menu = gr.update(choices=self.viewer_choices(turn), value=first)
        return "", history, turns, self.view(first, turns), menu, asked

    @staticmethod
    def _question_bubble(question: str, turn: Turn) -> str:
        """The question as the chat shows it; a long one cut, saying how much was searched."""
        if turn.result.truncated:
            return render.question_html(turn.result.question, SHOWN_QUESTION_CHARS,
                                        note=f"{len(question):,} characters; the first {MAX_QUESTION_CHARS:,} were searched")
        return render.question_html(question, SHOWN_QUESTION_CHARS,
                                    note=f"{len(question):,} characters" if len(question) > SHOWN_QUESTION_CHARS else "")

    def open_source(self, ref: str, turns: list[Turn] | None):
        """A citation link was clicked: show its article and select it in the menu."""
        return self.view(ref, turns), gr.update(value=ref if render.parse_source_ref(ref) else None)

    def clear(self):
        """A new chat (the New chat button or the chat's own trash button): no follow-up context left."""
        return [], [], render.viewer_placeholder(VIEWER_HINT), \
            gr.update(choices=self.viewer_choices(None), value=None), []

    def upload(self, files, query: str = "", sort: str = library.DEFAULT_SORT):
        """Add uploaded files (and the articles of .zip files), one status line each.

        Yields (status, header, table, table note, remove menu, viewer menu, sources, since,
        until, examples, generation, cleared upload box): the status as each file is done,
        everything else once at the end.
        """
        if self.read_only:
            gr.Warning(READ_ONLY)
            yield (status_html([("bad", f"Not added — {READ_ONLY}")]),) + (gr.skip(),) * 10 + (None,)
            return
        yield from upload_files(self, files, query, sort)

    def remove(self, doc: str | None, query: str = "", sort: str = library.DEFAULT_SORT):
        """Remove a document: (status, header, table, table note, remove menu, viewer menu, sources,
        since, until, examples, generation)."""
        if doc is None:  # the person cancelled the confirmation
            return (gr.skip(),) * 11
        if self.read_only:
            gr.Warning(READ_ONLY)
            return (status_html([("bad", f"Not removed — {READ_ONLY}")]),) + (gr.skip(),) * 10
        if not isinstance(doc, str) or not doc:
            gr.Warning("Pick a document to remove first.")
            return (gr.skip(),) * 11
        try:
            title = self.retriever.document(doc).title
            remove_document(self.retriever, self.docs_dir, doc)
        except QAError as err:
            gr.Warning(message(str(err)))
            return (status_html([("bad", f"Not removed — {err}")]),) + (gr.skip(),) * 10
        self.changed()
        gr.Info(message(f"Removed “{title}”."))
        return (status_html([("ok", f"Removed “{title}” ({doc}).")]),) + self.refresh(query, sort)

    def search(self, question: str, k: int = 5, previous_question: str = "", since: str = "", until: str = "",
               source: str = "") -> dict:
        """Search the indexed articles for the sentences that answer a question.

        Returns a qa.search-result/1 object: {"schema", "question", "found", "confidence", "mode",
        "truncated", "filter", "follow_up_of", "hits"}; each hit has rank, score, text, doc, title,
        source, date, sentence (its number), sentences (the article's count), paragraph, start and
        end (offsets into the article), context, context_start, context_before, context_after and
        sources (every article holding the sentence). Pass previous_question to read a follow-up
        ("What did he say?") in the context of the question before it. since and until (ISO dates,
        YYYY-MM-DD, inclusive) and source (a publisher, any case) limit the articles searched;
        articles without a date are left out by a date bound.
        """
        try:
            chosen = Filter(since=since or None, until=until or None,
                            sources=(source,) if isinstance(source, str) and source.strip() else ())
            used = chosen if chosen.active else None
            previous = None
            if isinstance(previous_question, str) and previous_question.strip():
                previous = ask(self.retriever, previous_question, k=DEFAULT_K, filter=used)
            turn = ask(self.retriever, question, previous, k=_int(k, 5, MAX_K), filter=used)
        except QAError as err:
            raise _error(err) from None
        return result_to_dict(turn.result, turn.follow_up_of)


def _examples(questions: list[str]) -> gr.Dataset:
    # One page of examples: an update that leaves samples_per_page out resets it to 10.
    return gr.Dataset(samples=[[q] for q in questions], samples_per_page=max(1, len(questions)))


def _citing_turn(turns: list[Turn], path: str, start: int | None) -> Turn | None:
    """The latest answer citing that sentence (or, without one, that article)."""
    for turn in reversed(turns):
        for hit in turn.result.hits:
            if hit.sentence.doc == path and (start is None or hit.sentence.start == start):
                return turn
    return None


def _int(value, default: int, most: int) -> int:
    """A count from a slider or an API caller: whole, at least 1, at most ``most``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        if value is None:
            return default
        raise QAError(f"k must be a whole number from 1 to {most}, not {value!r}")
    return int(max(1, min(most, value)))
