"""The page (``build_app``) and how it is served (``launch_settings``)."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from ...ranking import MODES
from ...render import html as render
from ...retrieval import Retriever
from ...uploads import MAX_UPLOAD_BYTES
from . import library
from .assets import CSS, SCROLL_ANSWER, SCROLL_VIEWER, SHOW_SOURCE, page_js
from .handlers import DEFAULT_K, VIEWER_HINT, Handlers

UPLOAD_TYPES = [".txt", ".md", ".html", ".htm", ".pdf", ".zip"]
# How often an open page asks whether another session changed the index: soon enough that
# an upload elsewhere shows up while one reads, rare enough to cost nothing (a no-op reply).
REFRESH_SECONDS = 3
# Fonts bundled with gradio: the app works with no internet.
THEME = gr.themes.Soft(primary_hue="indigo", neutral_hue="slate",
                       font=[gr.themes.LocalFont("Source Sans Pro", weights=(400, 600, 700)), "ui-sans-serif", "sans-serif"])


def build_app(retriever: Retriever, docs_dir: str | Path, examples: list[str] | None = None,
              max_upload_bytes: int = MAX_UPLOAD_BYTES, read_only: bool = False) -> gr.Blocks:
    """The chat app over ``retriever`` (whose documents live in ``docs_dir``), not yet launched.

    ``examples`` fixes the example questions; by default they follow the indexed articles.
    ``read_only`` hides upload and remove, and their handlers refuse (``Handlers.read_only``).

    >>> import tempfile
    >>> retriever = Retriever.from_directory("seeds", index_dir=tempfile.mkdtemp())
    >>> isinstance(build_app(retriever, "seeds"), gr.Blocks)
    True
    """
    h = Handlers(retriever, docs_dir, max_upload_bytes, read_only)
    docs = retriever.documents
    facts = library.facts(docs)
    fixed_examples = examples is not None
    examples = examples if fixed_examples else library.example_questions(docs)
    private = {"api_visibility": "private"}
    quiet = {**private, "show_progress": "hidden"}
    placeholder = render.viewer_placeholder(VIEWER_HINT)
    with gr.Blocks(title="News QA") as demo:
        turns = gr.State([])
        asked = gr.State([])
        seen = gr.State(None)  # the index generation this page shows
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
                        with gr.Row(elem_id="question-row"):
                            question = gr.Textbox(elem_id="question", show_label=False, scale=5, max_lines=4, min_width=240,
                                                  placeholder="Ask about the articles")
                            ask_button = gr.Button("Ask", variant="primary", scale=1, min_width=90)
                            new_button = gr.Button("New chat", variant="secondary", scale=1, min_width=90)
                        example_box = gr.Dataset(components=[question], samples=[[q] for q in examples], label="Try asking",
                                                 samples_per_page=max(1, len(examples)), elem_id="examples", type="values")
                        with gr.Accordion("Filter by date and source", open=False, elem_id="filters"):
                            with gr.Row():
                                since = gr.Textbox(label="From (YYYY-MM-DD)", placeholder=facts.oldest or "YYYY-MM-DD",
                                                   info=library.date_info(facts), elem_id="since", max_lines=1)
                                until = gr.Textbox(label="To (YYYY-MM-DD)", placeholder=facts.newest or "YYYY-MM-DD",
                                                   elem_id="until", max_lines=1)
                            sources = gr.Dropdown(list(facts.sources), value=[], multiselect=True, label="Sources",
                                                  info="Only these publishers (none picked: all).", elem_id="sources")
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
                with gr.Row():
                    doc_search = gr.Textbox(label="Search titles, sources and dates", elem_id="doc-search", max_lines=1, scale=3)
                    doc_sort = gr.Radio(list(library.SORTS), value=library.DEFAULT_SORT, label="Sort", elem_id="doc-sort", scale=2)
                rows, note, _ = h.documents_view()
                table_note = gr.Markdown(note, elem_id="documents-note")
                table = gr.Dataframe(rows, headers=["Title", "Source", "Date", "Sentences", "File"],
                                     interactive=False, wrap=True, elem_id="documents")
                if read_only:
                    gr.Markdown("This chat is read-only: articles cannot be added or removed here.", elem_id="read-only")
                with gr.Row(visible=not read_only):
                    with gr.Column():
                        upload_box = gr.File(label=f"Add articles ({', '.join(UPLOAD_TYPES)}; up to "
                                               f"{max_upload_bytes / 1024 / 1024:g} MB each; several at once)",
                                         file_types=UPLOAD_TYPES, type="filepath", elem_id="upload", file_count="multiple")
                    with gr.Column():
                        remove_menu = gr.Dropdown([(f"{d.title} ({d.path})", d.path) for d in library.select(docs)[:library.MAX_MENU_DOCS]],
                                                  value=None, label="Remove an article", allow_custom_value=True)
                        remove_button = gr.Button("Remove from folder and index", variant="stop")
                status = gr.HTML('<div class="qa-upload-lines"></div>', elem_id="upload-status")
        cite_ref = gr.Textbox(visible="hidden", elem_id="cite-ref")
        cite_go = gr.Button(visible="hidden", elem_id="cite-go")
        redo_ref = gr.Textbox(visible="hidden", elem_id="redo-ref")
        redo_go = gr.Button(visible="hidden", elem_id="redo-go")
        timer = gr.Timer(REFRESH_SECONDS)

        index_views = [header, table, table_note, remove_menu, source_menu, sources, since, until,
                       *([] if fixed_examples else [example_box]), seen]

        def fit(values):
            # With fixed examples the page has no examples output: drop that value.
            return values if not fixed_examples else values[:8] + values[9:]

        def refresh(query, sort, turns_):
            return fit(h.refresh(query, sort, turns_))

        def refresh_if_changed(seen_, query, sort, turns_):
            return fit(h.refresh_if_changed(seen_, query, sort, turns_))

        def upload(files, query, sort):  # its name is the event's name over HTTP
            for out in h.upload(files, query, sort):
                yield (out[0], *fit(out[1:11]), out[11])

        def remove(doc, query, sort):
            out = h.remove(doc, query, sort)
            return (out[0], *fit(out[1:]))

        demo.load(refresh, [doc_search, doc_sort, turns], index_views, **quiet)
        timer.tick(refresh_if_changed, [seen, doc_search, doc_sort, turns], index_views, **quiet)

        ask_inputs = [question, chatbot, turns, k, mode, since, until, sources, asked]
        answer_outputs = [question, chatbot, turns, viewer, source_menu, asked]
        for event in (question.submit, ask_button.click):
            event(h.respond, ask_inputs, answer_outputs, **private).then(None, js=SCROLL_ANSWER).then(None, js=SCROLL_VIEWER)
        example_box.click(lambda sample: sample[0] if sample else gr.skip(), example_box, question, **quiet) \
            .then(h.respond, ask_inputs, answer_outputs, **private).then(None, js=SCROLL_ANSWER).then(None, js=SCROLL_VIEWER)
        redo_go.click(h.redo, [redo_ref, chatbot, turns, k, mode, asked], answer_outputs, **private) \
            .then(None, js=SCROLL_ANSWER).then(None, js=SCROLL_VIEWER)
        cite_go.click(h.open_source, [cite_ref, turns], [viewer, source_menu], **private).then(None, js=SHOW_SOURCE)
        source_menu.input(h.view, [source_menu, turns], viewer, **private).then(None, js=SCROLL_VIEWER)
        clear_outputs = [chatbot, turns, viewer, source_menu, asked]
        new_button.click(h.clear, None, clear_outputs, **private)
        chatbot.clear(h.clear, None, clear_outputs, **private)  # the chat's own trash button
        for control in (doc_search.change, doc_sort.change):
            control(h.documents_view, [doc_search, doc_sort], [table, table_note, remove_menu], **quiet)
        upload_box.upload(upload, [upload_box, doc_search, doc_sort], [status, *index_views, upload_box], **quiet)
        remove_button.click(remove, [remove_menu, doc_search, doc_sort], [status, *index_views], **private,
                            js="(doc, q, s) => [!doc ? '' : (confirm('Remove ' + doc + ' from the folder and the index?') ? doc : null), q, s]")
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
        "theme": THEME, "css": CSS, "js": page_js(max_upload_bytes),
    }
