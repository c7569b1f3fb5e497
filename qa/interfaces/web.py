"""Web: the Gradio chat — what each control does (``Handlers``), the page (``build_app``) and
how it is served (``launch_settings``). app.py only reads the settings and starts it.

gradio is in the ``app`` extra only: this is the one module of qa that imports it, and no
other module imports this one (tests/test_app.py checks both). It turns what a person does
into library calls and results into what a person reads: searching lives in
``qa.retrieval``, follow-ups in ``qa.conversation``, uploads in ``qa.uploads``, rendering
in ``qa.render``.

>>> import tempfile
>>> from qa import Retriever
>>> retriever = Retriever.from_directory("seeds", index_dir=tempfile.mkdtemp())
>>> Handlers(retriever, "seeds").search("When did formal diplomatic relations begin?", k=1)["hits"][0]["sentence"]
17
"""

from __future__ import annotations

import html
from pathlib import Path
from urllib.parse import quote, unquote

import gradio as gr

from ..conversation import Turn, ask
from ..errors import QAError
from ..ranking import MODES
from ..render import html as render
from ..render.json import result_to_dict
from ..retrieval import Retriever
from ..uploads import MAX_UPLOAD_BYTES, add_upload, remove_document

DEFAULT_K = 3
MAX_K = 20
KEEP_TURNS = 50  # answers per session whose citations the viewer can still highlight
UPLOAD_TYPES = [".txt", ".md", ".html", ".htm", ".pdf"]
SEED_EXAMPLES = [
    "Who is the president of Ecuador?",
    "What did he say about the hostages?",
    "When did formal diplomatic relations begin?",
    "What defense products has Ecuador bought from Israel?",
    "Why does Ecuador want security cooperation?",
    "What is the capital of France?",
]
DOC_PREFIX = "#doc/"
VIEWER_HINT = "Ask a question, then pick a citation to read the whole article here."
# Fonts bundled with gradio: the app works with no internet.
THEME = gr.themes.Soft(primary_hue="indigo", neutral_hue="slate",
                       font=[gr.themes.LocalFont("Source Sans Pro", weights=(400, 600, 700)), "ui-sans-serif", "sans-serif"])

CSS = render.STYLESHEET + """
.qa-header h1 { margin: 0; font-size: 1.7rem; }
.qa-header p { margin: .2rem 0 0; color: var(--body-text-color-subdued); }
.qa-stats { font-size: .9rem; }
#upload-status .ok { color: #166534; } #upload-status .bad { color: #b91c1c; }
"""

# Citation links inside chat answers cannot call Python themselves (the chat sanitizes
# messages), so a click copies the link's target into a hidden box and presses a hidden button.
JS = """
() => {
  document.addEventListener('click', (event) => {
    const link = event.target.closest('a[href^="#source/"]');
    if (!link) return;
    event.preventDefault();
    const box = document.querySelector('#cite-ref textarea, #cite-ref input');
    const go = document.querySelector('#cite-go');
    if (!box || !go) return;
    box.value = link.getAttribute('href');
    box.dispatchEvent(new Event('input', {bubbles: true}));
    setTimeout(() => go.click(), 50);
  });
}
"""
# The chat does not scroll itself to the bottom (a long answer would hide its own start):
# after an answer the latest question goes to the top of the chat; after opening a source,
# the focused citation goes into view in the viewer.
SCROLL_VIEWER = """
() => {
  setTimeout(() => {
    const box = document.querySelector('#viewer .qa-article-text');
    const mark = box && box.querySelector('.qa-focus');
    if (mark) box.scrollTop = Math.max(0, mark.offsetTop - box.clientHeight / 3);
  }, 100);
}
"""
SCROLL_ANSWER = """
() => {
  setTimeout(() => {
    const asked = document.querySelectorAll('#chat [data-testid="user"]');
    const last = asked[asked.length - 1];
    let pane = last && last.parentElement;
    while (pane && !(pane.scrollHeight > pane.clientHeight + 4 && /(auto|scroll)/.test(getComputedStyle(pane).overflowY))) {
      pane = pane.parentElement;
    }
    if (pane && pane !== document.documentElement && pane !== document.body) {
      pane.scrollTop += last.getBoundingClientRect().top - pane.getBoundingClientRect().top - 48;
    }
  }, 100);
}
"""


def message(text: str) -> str:
    """Toasts render HTML; file names and titles in messages are shown, never interpreted."""
    return html.escape(text)


class Handlers:
    """What each control does; one instance per running app, shared by all sessions."""

    def __init__(self, retriever: Retriever, docs_dir: str | Path, max_upload_bytes: int = MAX_UPLOAD_BYTES):
        self.retriever = retriever
        self.docs_dir = Path(docs_dir)
        self.max_upload_bytes = max_upload_bytes

    # -- reading ------------------------------------------------------------------------

    def header(self) -> str:
        docs = self.retriever.documents
        n = len(docs)
        return (f'<div class="qa-header"><h1>News QA</h1>'
                f'<p>Ask about the articles in <code>{html.escape(self.docs_dir.name or str(self.docs_dir))}</code>. '
                f'Every answer quotes them word for word and says where each sentence comes from.</p>'
                f'<p class="qa-stats">{n} article{"s" if n != 1 else ""} · {len(self.retriever):,} sentences indexed</p></div>')

    def document_rows(self) -> list[list]:
        return [[d.title, d.source or "—", d.date or "—", self.retriever.sentence_count(d.path), d.path]
                for d in self.retriever.documents]

    def viewer_choices(self, turn: Turn | None) -> list[tuple[str, str]]:
        cited = [(render.citation_label(h), render.source_ref(h)) for h in turn.result.hits] if turn else []
        docs = [(f"{d.title} ({d.path})", DOC_PREFIX + quote(d.path, safe="")) for d in self.retriever.documents]
        return cited + docs

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
                                   note=f"Highlighted: the sentences {kind} “{turn.question}”.")

    # -- events -------------------------------------------------------------------------

    def respond(self, question: str, history: list | None, turns: list[Turn] | None, k: float = DEFAULT_K,
                mode: str = "hybrid"):
        """Answer a chat question: (cleared box, chat, turns, viewer, citation menu)."""
        history, turns = list(history or []), list(turns or [])
        if not isinstance(question, str) or not question.strip():
            gr.Warning("Type a question about the articles first.")
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        try:
            turn = ask(self.retriever, question, turns[-1] if turns else None, k=_int(k, DEFAULT_K, MAX_K),
                       mode=mode if mode in MODES else "hybrid")
        except QAError as err:
            raise gr.Error(message(str(err)), print_exception=False) from None
        turns = [*turns[-(KEEP_TURNS - 1):], turn]
        history += [{"role": "user", "content": render.question_html(question)},
                    {"role": "assistant", "content": render.answer_html(turn.result, turn.follow_up_of)}]
        first = render.source_ref(turn.result.hits[0]) if turn.result.hits else None
        menu = gr.update(choices=self.viewer_choices(turn), value=first)
        return "", history, turns, self.view(first, turns), menu

    def open_source(self, ref: str, turns: list[Turn] | None):
        """A citation link was clicked: show its article and select it in the menu."""
        return self.view(ref, turns), gr.update(value=ref if render.parse_source_ref(ref) else None)

    def clear(self):
        return [], [], render.viewer_placeholder(VIEWER_HINT), \
            gr.update(choices=self.viewer_choices(None), value=None)

    def upload(self, file: str | None, progress=gr.Progress(track_tqdm=True)):
        """Add an uploaded file: (status, table, header, remove menu, viewer menu, cleared upload box)."""
        if not file:
            return (gr.skip(),) * 6
        path = Path(file)
        name = path.name
        try:
            size = path.stat().st_size
            if size > self.max_upload_bytes:
                raise QAError(f"{name}: {size:,} bytes is over the {self.max_upload_bytes:,}-byte upload limit; split the file")
            progress(0.05, desc=f"Reading {name}")
            data = path.read_bytes()
            progress(0.2, desc="Embedding sentences")
            doc = add_upload(self.retriever, self.docs_dir, data, name, max_bytes=self.max_upload_bytes, progress=True)
        except (QAError, OSError) as err:
            text = str(err) if isinstance(err, QAError) else f"{name}: cannot read the upload ({err})"
            gr.Warning(message(text))
            status = f'<p class="bad">Not added — {html.escape(text)}</p>'
            return status, gr.skip(), gr.skip(), gr.skip(), gr.skip(), None
        count = self.retriever.sentence_count(doc.path)
        gr.Info(message(f"Added “{doc.title}” ({count} sentences). Ask about it now."))
        status = (f'<p class="ok">Added <strong>{html.escape(doc.title)}</strong> as <code>{html.escape(doc.path)}</code> '
                  f'({count} sentences). It can be asked about now.</p>')
        return (status, self.document_rows(), self.header(), self._remove_menu(),
                gr.update(choices=self.viewer_choices(None)), None)

    def remove(self, doc: str | None):
        """Remove a document: (status, table, header, remove menu, viewer menu)."""
        if doc is None:  # the person cancelled the confirmation
            return (gr.skip(),) * 5
        if not isinstance(doc, str) or not doc:
            gr.Warning("Pick a document to remove first.")
            return (gr.skip(),) * 5
        try:
            title = self.retriever.document(doc).title
            remove_document(self.retriever, self.docs_dir, doc)
        except QAError as err:
            gr.Warning(message(str(err)))
            return f'<p class="bad">Not removed — {html.escape(str(err))}</p>', gr.skip(), gr.skip(), gr.skip(), gr.skip()
        gr.Info(message(f"Removed “{title}”."))
        return (f'<p class="ok">Removed <strong>{html.escape(title)}</strong> (<code>{html.escape(doc)}</code>).</p>',
                self.document_rows(), self.header(), self._remove_menu(), gr.update(choices=self.viewer_choices(None)))

    def _remove_menu(self):
        return gr.update(choices=[(f"{d.title} ({d.path})", d.path) for d in self.retriever.documents], value=None)

    def search(self, question: str, k: int = 5, previous_question: str = "") -> dict:
        """Search the indexed articles for the sentences that answer a question.

        Returns a qa.search-result/1 object: {"schema", "question", "found", "confidence", "mode",
        "truncated", "filter", "follow_up_of", "hits"}; each hit has rank, score, text, doc, title,
        source, date, sentence (its number), sentences (the article's count), paragraph, start and
        end (offsets into the article), context, context_start, context_before, context_after and
        sources (every article holding the sentence). Pass previous_question to read a follow-up
        ("What did he say?") in the context of the question before it.
        """
        try:
            previous = None
            if isinstance(previous_question, str) and previous_question.strip():
                previous = ask(self.retriever, previous_question, k=DEFAULT_K)
            turn = ask(self.retriever, question, previous, k=_int(k, 5, MAX_K))
        except QAError as err:
            raise gr.Error(message(str(err)), print_exception=False) from None
        return result_to_dict(turn.result, turn.follow_up_of)


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


def build_app(retriever: Retriever, docs_dir: str | Path, examples: list[str] | None = None,
              max_upload_bytes: int = MAX_UPLOAD_BYTES) -> gr.Blocks:
    """The chat app over ``retriever`` (whose documents live in ``docs_dir``), not yet launched.

    >>> import tempfile
    >>> retriever = Retriever.from_directory("seeds", index_dir=tempfile.mkdtemp())
    >>> isinstance(build_app(retriever, "seeds"), gr.Blocks)
    True
    """
    h = Handlers(retriever, docs_dir, max_upload_bytes)
    if examples is None:
        examples = SEED_EXAMPLES if any(d.title.startswith("Ecuador And Israel") for d in retriever.documents) else \
            [f"What is “{d.title}” about?" for d in retriever.documents[:4]]
    private = {"api_visibility": "private"}
    placeholder = render.viewer_placeholder(VIEWER_HINT)
    with gr.Blocks(title="News QA") as demo:
        turns = gr.State([])
        header = gr.HTML(h.header())
        with gr.Tabs():
            with gr.Tab("Ask", id="ask"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3, min_width=420):
                        chatbot = gr.Chatbot(label="Answers", show_label=False, elem_id="chat", height=600, sanitize_html=True,
                                             render_markdown=True, latex_delimiters=[], line_breaks=False, autoscroll=False, allow_tags=False,
                                             feedback_options=None, buttons=["copy", "copy_all"],
                                             placeholder="**Ask a question about the articles.**<br>"
                                                         "Answers quote the articles word for word, with sources.")
                        with gr.Row():
                            question = gr.Textbox(elem_id="question", show_label=False, scale=5, max_lines=4,
                                                  placeholder="e.g. Who is the president of Ecuador?", autofocus=True)
                            ask_button = gr.Button("Ask", variant="primary", scale=1, min_width=90)
                            new_button = gr.Button("New chat", variant="secondary", scale=1, min_width=90)
                        example_box = gr.Examples([[q] for q in examples], inputs=[question], label="Try asking",
                                                  examples_per_page=len(examples) or 1, api_visibility="private")
                        with gr.Accordion("Answer settings", open=False):
                            k = gr.Slider(1, 8, value=DEFAULT_K, step=1, label="Sentences quoted per answer")
                            mode = gr.Radio(list(MODES), value="hybrid", label="Search mode",
                                            info="hybrid = meaning + keywords (best); dense = meaning only; bm25 = keywords only")
                    with gr.Column(scale=2, min_width=320):
                        gr.Markdown("### Source viewer")
                        source_menu = gr.Dropdown(h.viewer_choices(None), value=None, label="Open a citation or an article",
                                                  allow_custom_value=True, elem_id="source-menu")
                        viewer = gr.HTML(placeholder, elem_id="viewer", js_on_load=None)
            with gr.Tab("Documents", id="documents"):
                gr.Markdown("Articles in the index. Answers come only from these.")
                table = gr.Dataframe(h.document_rows(), headers=["Title", "Source", "Date", "Sentences", "File"],
                                     interactive=False, wrap=True, elem_id="documents")
                with gr.Row():
                    with gr.Column():
                        upload = gr.File(label=f"Add an article ({', '.join(UPLOAD_TYPES)}; up to "
                                               f"{max_upload_bytes / 1024 / 1024:g} MB)",
                                         file_types=UPLOAD_TYPES, type="filepath", elem_id="upload")
                    with gr.Column():
                        remove_menu = gr.Dropdown([(f"{d.title} ({d.path})", d.path) for d in retriever.documents],
                                                  value=None, label="Remove an article", allow_custom_value=True)
                        remove_button = gr.Button("Remove from folder and index", variant="stop")
                status = gr.HTML("", elem_id="upload-status")
        cite_ref = gr.Textbox(visible="hidden", elem_id="cite-ref")
        cite_go = gr.Button(visible="hidden", elem_id="cite-go")

        answer_outputs = [question, chatbot, turns, viewer, source_menu]
        for event in (question.submit, ask_button.click):
            event(h.respond, [question, chatbot, turns, k, mode], answer_outputs, **private) \
                .then(None, js=SCROLL_ANSWER).then(None, js=SCROLL_VIEWER)
        example_box.load_input_event.then(h.respond, [question, chatbot, turns, k, mode], answer_outputs, **private) \
            .then(None, js=SCROLL_ANSWER).then(None, js=SCROLL_VIEWER)
        cite_go.click(h.open_source, [cite_ref, turns], [viewer, source_menu], **private).then(None, js=SCROLL_VIEWER)
        source_menu.input(h.view, [source_menu, turns], viewer, **private).then(None, js=SCROLL_VIEWER)
        new_button.click(h.clear, None, [chatbot, turns, viewer, source_menu], **private)
        upload.upload(h.upload, upload, [status, table, header, remove_menu, source_menu, upload], **private)
        remove_button.click(h.remove, remove_menu, [status, table, header, remove_menu, source_menu], **private,
                            js="(doc) => !doc ? '' : (confirm('Remove ' + doc + ' from the folder and the index?') ? doc : null)")
        gr.api(h.search, api_name="search")
    return demo


def launch_settings(host: str, port: int, docs_dir: str | Path, index_dir: str | Path,
                    max_upload_bytes: int = MAX_UPLOAD_BYTES) -> dict:
    """``launch()`` arguments: local only unless told, no share link, capped uploads, private folders."""
    return {
        "server_name": host, "server_port": port, "share": False, "max_file_size": max_upload_bytes,
        # The documents and index folders are read through the library only, never served.
        "blocked_paths": [str(Path(docs_dir).resolve()), str(Path(index_dir).resolve())],
        "allowed_paths": [], "footer_links": ["api"], "ssr_mode": False,
        # Unexpected exceptions stay in the terminal; the library's own errors are shown as gr.Error.
        "show_error": False,
        "theme": THEME, "css": CSS, "js": JS,
    }
