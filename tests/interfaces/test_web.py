"""The chat (qa/interfaces/web.py): launch settings, what each control does, and the HTTP API
on a live server."""

from __future__ import annotations

import warnings
from pathlib import Path

import gradio as gr
import httpx
import pytest
from app_support import HOSTAGE_SENTENCES, ROOT, SEED_DOC, corpus, folder_state, free_port
from gradio_client import Client

from qa.interfaces import web
from qa.render import html as render

# gradio's queue calls a pandas option that pandas 3 deprecates; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:.*(no_silent_downcasting|copy keyword).*")
ARTICLE = "Solar Farm Opens In Quito\n\nThe new solar farm near Quito powers 9,000 homes. It cost 40 million dollars.\n"


@pytest.fixture
def handlers(tmp_path):
    retriever, docs = corpus(tmp_path)
    return web.Handlers(retriever, docs, max_upload_bytes=64 * 1024)


def _last(outputs):
    """The last of what a streaming handler yields (what the page ends up showing)."""
    return list(outputs)[-1]


def _upload_file(tmp_path: Path, name: str, data: bytes | str) -> str:
    # Gradio hands the handler a temporary file named like the user's file.
    path = tmp_path / "gradio-upload" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return str(path)


# -- settings ---------------------------------------------------------------------------

def test_launch_settings_listen_locally_without_share_link_and_block_private_folders(tmp_path):
    settings = web.launch_settings("127.0.0.1", 7860, tmp_path / "docs", tmp_path / "index", 5_000_000)
    assert settings["server_name"] == "127.0.0.1" and settings["server_port"] == 7860
    assert settings["share"] is False and settings["ssr_mode"] is False and settings["show_error"] is False
    assert settings["max_file_size"] == 5_000_000
    assert set(settings["blocked_paths"]) == {str((tmp_path / "docs").resolve()), str((tmp_path / "index").resolve())}
    assert settings["allowed_paths"] == []


def test_chat_sanitizes_messages_and_interprets_no_maths_or_custom_tags(tmp_path):
    retriever, docs = corpus(tmp_path)
    chat = next(b for b in web.build_app(retriever, docs).blocks.values() if isinstance(b, gr.Chatbot))
    assert chat.sanitize_html is True and chat.allow_tags is False and chat.latex_delimiters == []


# -- chat -------------------------------------------------------------------------------

def test_question_gets_a_cited_answer_and_opens_the_first_source(handlers):
    box, history, turns, viewer, menu, _ = handlers.respond("Who is the president of Ecuador?", [], [])
    assert box == ""
    assert [m["role"] for m in history] == ["user", "assistant"]
    assert history[0]["content"] == "Who is the president of Ecuador?"
    assert "President Daniel Noboa of Ecuador" in history[1]["content"] and "[1]" in history[1]["content"]
    assert len(turns) == 1
    assert 'class="qa-hl qa-focus"' in viewer
    first = render.source_ref(turns[0].result.hits[0])
    assert menu["value"] == first and menu["choices"][0][1] == first


def test_follow_up_in_the_chat_finds_the_hostage_sentences(handlers):
    _, history, turns, _, _, _ = handlers.respond("Who is the president of Ecuador?", [], [])
    _, history, turns, _, _, _ = handlers.respond("What did he say about the hostages?", history, turns)
    assert len(history) == 4 and len(turns) == 2
    answer = history[3]["content"]
    assert "Read as a follow-up to" in answer
    assert all(render.esc(s) in answer for s in HOSTAGE_SENTENCES)


def test_question_the_documents_do_not_answer_is_said_plainly(handlers):
    _, history, _, _, _, _ = handlers.respond("What is the capital of France?", [], [])
    assert "The documents do not answer this question." in history[1]["content"]
    assert "Possibly related" in history[1]["content"]


def test_blank_question_warns_and_changes_nothing(handlers):
    with pytest.warns(UserWarning, match="Type a question"):
        out = handlers.respond("   ", [], [])
    assert all(part == gr.skip() for part in out)


def test_unsearchable_question_is_one_readable_error(handlers):
    with pytest.raises(gr.Error, match="the question is empty"):
        handlers.respond("\u200b\u200e", [], [])


def test_answer_settings_choose_how_many_sentences_and_which_search(handlers):
    _, history, turns, _, _, _ = handlers.respond("hostages held by Hamas", [], [], k=5, mode="dense")
    assert len(turns[0].result.hits) == 5 and turns[0].result.mode == "dense"
    _, _, turns, _, _, _ = handlers.respond("hostages held by Hamas", [], [], k=999, mode="<nonsense>")
    assert len(turns[0].result.hits) == min(web.MAX_K, 27) and turns[0].result.mode == "hybrid"


def test_clicking_a_citation_opens_its_article_at_that_sentence(handlers):
    _, _, turns, _, _, _ = handlers.respond("What did Noboa say about the hostages?", [], [], k=3)
    second = turns[0].result.hits[1]
    viewer, menu = handlers.open_source(render.source_ref(second), turns)
    assert f'<mark class="qa-hl qa-focus"><sup class="qa-hl-n">[2]</sup>{render.esc(second.text)}' in viewer
    assert menu["value"] == render.source_ref(second)
    assert "Highlighted: the sentences cited" in viewer


def test_any_article_can_be_opened_from_the_menu(handlers):
    choices = dict((value, label) for label, value in handlers.viewer_choices(None))
    doc_choice = web.DOC_PREFIX + SEED_DOC
    assert doc_choice in choices
    viewer = handlers.view(doc_choice, [])
    assert "Formal diplomatic relations began in 1949." in viewer and "<mark" not in viewer


@pytest.mark.parametrize("choice", ["#doc/..%2F..%2Fetc%2Fpasswd", "#source/%2Fetc%2Fpasswd/0", "/etc/passwd",
                                    "<img src=x onerror=alert(1)>", "", None, 12])
def test_source_viewer_refuses_what_is_not_an_indexed_article(handlers, choice):
    out = handlers.view(choice, [])
    assert 'class="qa-article qa-empty"' in out and "root:" not in out and "<img" not in out


# -- documents --------------------------------------------------------------------------

def test_documents_panel_lists_title_source_date_and_sentence_count(handlers):
    assert handlers.document_rows() == [["Ecuador And Israel Cement Security Alliance As Jerusalem Office Opens",
                                         "The Rio Times", "2025-05-05", 27, SEED_DOC]]
    assert "1 article · 27 sentences indexed" in handlers.header()


def test_uploaded_article_is_listed_and_answerable_at_once(handlers, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an upload that works raises no warning
        status, header, rows, _, remove_menu, source_menu, *_, box = _last(handlers.upload(_upload_file(tmp_path, "solar.txt", ARTICLE)))
    assert "added" in status and "Solar Farm Opens In Quito" in status
    assert ["Solar Farm Opens In Quito", "unknown", "unknown", 2, "solar.txt"] in rows
    assert "2 articles · 29 sentences" in header
    assert ("Solar Farm Opens In Quito (solar.txt)", "solar.txt") in remove_menu["choices"]
    assert box is None
    _, history, _, _, _, _ = handlers.respond("How many homes does the solar farm power?", [], [])
    assert "The new solar farm near Quito powers 9,000 homes." in history[1]["content"]
    assert (handlers.docs_dir / "solar.txt").exists()


@pytest.mark.parametrize("name, data, reason", [
    ("blob.txt", b"\x00\xff\x00binary" * 100, "binary"),
    ("empty.md", b"", "empty"),
    ("big.txt", b"Big\n\n" + b"word " * 20_000, "over the 65,536-byte upload limit"),
    ("tool.exe", b"MZ\x90\x00", "unsupported file type .exe"),
    (SEED_DOC, ARTICLE, "already exists"),
    ("copy.txt", (ROOT / "seeds" / SEED_DOC).read_bytes(), "same text is already indexed"),
    ("<script>x.txt", b"\x00", "&lt;script&gt;"),
])
def test_bad_upload_gets_a_clear_message_and_changes_nothing(handlers, tmp_path, name, data, reason):
    before_files, before_docs = folder_state(handlers.docs_dir), handlers.retriever.documents
    with pytest.warns(UserWarning) as warned:
        status, *views, box = _last(handlers.upload(_upload_file(tmp_path, name, data)))
    assert reason in str(warned[0].message) and "not added" in status and 'class="bad"' in status
    assert all(part == gr.skip() for part in views) and box is None
    assert folder_state(handlers.docs_dir) == before_files and handlers.retriever.documents == before_docs


def test_removed_article_leaves_folder_index_and_answers(handlers, tmp_path):
    _last(handlers.upload(_upload_file(tmp_path, "solar.txt", ARTICLE)))
    status, header, rows, *_ = handlers.remove("solar.txt")
    assert "Removed" in status and [r[-1] for r in rows] == [SEED_DOC]
    assert not (handlers.docs_dir / "solar.txt").exists()
    assert "1 article · 27 sentences" in header
    _, history, _, _, _, _ = handlers.respond("How many homes does the solar farm power?", [], [])
    assert "9,000 homes" not in history[1]["content"]


@pytest.mark.parametrize("doc", ["../index/manifest.json", "nothing.txt", "/etc/passwd"])
def test_removing_what_is_not_an_indexed_article_changes_nothing(handlers, doc):
    before = folder_state(handlers.docs_dir)
    with pytest.warns(UserWarning, match="no such document"):
        status, *_ = handlers.remove(doc)
    assert "Not removed" in status and folder_state(handlers.docs_dir) == before


def test_example_questions_fit_the_corpus(tmp_path):
    retriever, docs = corpus(tmp_path)
    other_docs = tmp_path / "other"
    other_docs.mkdir()
    (other_docs / "solar.txt").write_text(ARTICLE)
    other = type(retriever).from_directory(other_docs, index_dir=tmp_path / "other-index", embedder=retriever.embedder)
    def examples(demo):
        return [sample for block in demo.blocks.values() if isinstance(block, gr.Dataset) for sample in block.samples]

    assert examples(web.build_app(retriever, docs))[0] == ["Who is the president of Ecuador?"]
    assert examples(web.build_app(other, other_docs)) == [["What is “Solar Farm Opens In Quito” about?"]]


# -- the live server --------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("server")
    retriever, docs = corpus(root)
    demo = web.build_app(retriever, docs)
    demo.queue(default_concurrency_limit=4)
    settings = web.launch_settings("127.0.0.1", free_port(), docs, root / "index")
    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True, **settings)
    yield url.rstrip("/"), docs, root / "index"
    demo.close()


def test_only_the_search_endpoint_is_exposed(server):
    url, _, _ = server
    api = Client(url, verbose=False, analytics_enabled=False).view_api(print_info=False, return_format="dict")
    assert list(api["named_endpoints"]) == ["/search"]
    assert api["unnamed_endpoints"] == {}


def test_search_endpoint_returns_hits_as_json_over_http(server):
    url, _, _ = server
    client = Client(url, verbose=False, analytics_enabled=False)
    data = client.predict(question="When did formal diplomatic relations begin?", k=2, api_name="/search")
    assert data["found"] is True and len(data["hits"]) == 2
    hit = data["hits"][0]
    assert hit["text"] == "Formal diplomatic relations began in 1949."
    assert (hit["doc"], hit["sentence"], hit["sentences"], hit["source"], hit["date"]) == \
        (SEED_DOC, 17, 27, "The Rio Times", "2025-05-05")
    assert hit["context"].startswith("Formal diplomatic relations began in 1949.")


def test_search_endpoint_reads_follow_ups_after_a_previous_question(server):
    client = Client(server[0], verbose=False, analytics_enabled=False)
    data = client.predict(question="What did he say about the hostages?", previous_question="Who is the president of Ecuador?",
                          api_name="/search")
    assert data["follow_up_of"] == ["Who is the president of Ecuador?"]
    assert {h["text"] for h in data["hits"][:2]} == set(HOSTAGE_SENTENCES)


def test_search_endpoint_says_when_the_documents_do_not_answer(server):
    client = Client(server[0], verbose=False, analytics_enabled=False)
    data = client.predict(question="What is the capital of France?", api_name="/search")
    assert data["found"] is False and data["hits"]


@pytest.mark.parametrize("kwargs, reason", [({"question": "  "}, "the question is empty"),
                                            ({"question": "hostages", "k": "many"}, "k must be a whole number")])
def test_search_endpoint_errors_are_one_readable_line(server, kwargs, reason):
    client = Client(server[0], verbose=False, analytics_enabled=False)
    with pytest.raises(Exception, match=reason):
        client.predict(**kwargs, api_name="/search")


def test_documents_and_index_files_are_not_served(server):
    url, docs, index = server
    for path in (docs / SEED_DOC, index / "manifest.json", Path("/etc/passwd")):
        response = httpx.get(f"{url}/gradio_api/file={path.resolve()}")
        assert response.status_code in (403, 404), path
        assert "Noboa" not in response.text and "root:" not in response.text


def _raw_call(url: str, name: str, data: list) -> str:
    """Call an event by its name over plain HTTP, as a script could, bypassing the page."""
    started = httpx.post(f"{url}/gradio_api/call/{name}", json={"data": data}, timeout=30)
    started.raise_for_status()
    return httpx.get(f"{url}/gradio_api/call/{name}/{started.json()['event_id']}", timeout=30).text


def test_ui_handlers_called_over_raw_http_cannot_reach_outside_the_folders(server):
    url, docs, _ = server
    before = folder_state(docs)
    stolen = _raw_call(url, "upload", [[{"path": "/etc/passwd", "orig_name": "passwd.txt",
                                         "meta": {"_type": "gradio.FileData"}}], "", "Newest first"])
    assert "event: error" in stolen and "root:" not in stolen
    assert "no such document" in _raw_call(url, "remove", ["../index/manifest.json", "", "Newest first"])
    assert "no longer indexed" in _raw_call(url, "view", ["#doc/..%2F..%2Fetc%2Fpasswd", []])
    assert folder_state(docs) == before and (docs.parent / "index" / "manifest.json").exists()


def test_search_endpoint_takes_since_until_and_a_source_in_any_case(server):
    client = Client(server[0], verbose=False, analytics_enabled=False)
    data = client.predict(question="Who is the president of Ecuador?", k=2, since="2025-05-01", until="2025-05-31",
                          source="the rio times", api_name="/search")
    assert data["filter"] == {"since": "2025-05-01", "until": "2025-05-31", "sources": ["the rio times"]}
    assert len(data["hits"]) == 2
    none = client.predict(question="Who is the president of Ecuador?", since="2030-01-01", api_name="/search")
    assert none["hits"] == []
    with pytest.raises(Exception, match="is not a date"):
        client.predict(question="Who?", since="May 2025", api_name="/search")


# -- issue 12: the chat as a product ------------------------------------------------------

def test_clearing_the_chat_leaves_no_follow_up_context(handlers):
    chat, turns, _, _, asked = handlers.clear()
    assert chat == [] and turns == [] and asked == []


def test_recency_words_become_a_date_range_that_can_be_removed(tmp_path):
    from app_support import DISTRACTOR

    retriever, docs = corpus(tmp_path, {"summit.txt": DISTRACTOR, "undated.txt": "Mountain Road\n\nThe road opened.\n"})
    h = web.Handlers(retriever, docs)
    _, history, turns, _, _, asked = h.respond("What was said about hostages this week?", [], [])
    answer = history[1]["content"]
    assert turns[0].result.filter.since == "2025-05-26" and turns[0].result.filter.until == "2025-06-01"
    assert "Read “this week” as" in answer and f'href="#redo/{asked[0]["n"]}"' in answer
    assert "1 article without a date was left out by the date range." in answer
    assert all(hit.sentence.doc == "summit.txt" for hit in turns[0].result.hits)
    _, history, turns, _, _, asked = h.redo(f"#redo/{asked[0]['n']}", history, turns, asked=asked)
    assert turns[-1].result.filter is None and "remove the date range" not in history[-1]["content"]
    assert len(history) == 4 and len(asked) == 2
    _, history, turns, *_ = h.respond("What was said about hostages this week?", [], [], since="2025-05-01",
                                      until="2025-05-31", sources=["The Rio Times"])
    assert turns[0].result.filter.since == "2025-05-01" and "Read “this week”" not in history[1]["content"]
    assert "Filtered: 2025-05-01 to 2025-05-31 · source The Rio Times." in history[1]["content"]
    with pytest.raises(gr.Error, match="not a date"):
        h.respond("Who?", [], [], since="soon")


def test_the_page_is_refreshed_from_the_live_index_and_only_when_it_changed(handlers, tmp_path):
    out = handlers.refresh()
    generation = out[-1]
    assert all(part == gr.skip() for part in handlers.refresh_if_changed(generation))
    _last(handlers.upload(_upload_file(tmp_path, "solar.txt", ARTICLE)))
    header, rows, note, remove_menu, source_menu, sources, *_, examples, seen = handlers.refresh_if_changed(generation)
    assert seen == generation + 1 and "2 articles" in header and "2 articles." in note
    assert ("Solar Farm Opens In Quito (solar.txt)", "solar.txt") in remove_menu["choices"]
    assert any(value == web.DOC_PREFIX + "solar.txt" for _, value in source_menu["choices"])
    assert ["What is “Solar Farm Opens In Quito” about?"] in examples.raw_samples


def test_examples_leave_the_seed_once_other_articles_outnumber_it(tmp_path):
    from qa.interfaces.web.library import example_questions

    retriever, docs = corpus(tmp_path, {f"story-{i}.txt": f"Story Number {i}\n\nThing {i} happened.\n" for i in range(3)})
    questions = example_questions(retriever.documents)
    assert "Who is the president of Ecuador?" not in questions and len(questions) == 3
    assert all(q.startswith("What is “Story Number") for q in questions)


def test_documents_tab_searches_and_sorts_by_title_source_and_date(tmp_path):
    from app_support import DISTRACTOR

    retriever, docs = corpus(tmp_path, {"summit.txt": DISTRACTOR, "undated.txt": "Mountain Road\n\nThe road opened.\n"})
    h = web.Handlers(retriever, docs)
    assert [r[0][:8] for r in h.document_rows()] == ["Colombia", "Ecuador ", "Mountain"]  # newest first, undated last
    assert [r[0][:8] for r in h.document_rows(sort="Oldest first")] == ["Ecuador ", "Colombia", "Mountain"]
    assert [r[1] for r in h.document_rows(sort="Source A–Z")] == ["Andes Daily", "The Rio Times", "unknown"]
    assert [r[0][:8] for r in h.document_rows("rio times")] == ["Ecuador "]
    rows, note, menu = h.documents_view("2025-06")
    assert [r[-1] for r in rows] == ["summit.txt"] and note == "1 of 3 articles match." and len(menu["choices"]) == 1


def _zip(members: dict[str, bytes], compression=None) -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression or zipfile.ZIP_STORED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_several_files_and_a_zip_are_each_added_or_refused_with_a_reason(handlers, tmp_path):
    archive = _zip({"rail.txt": b"Rail Line Reopens\n\nThe rail line reopened.", "a/b.txt": b"x",
                    "__MACOSX/._rail.txt": b"junk", "empty.md": b""})
    with pytest.warns(UserWarning, match="not added"):
        steps = list(handlers.upload([_upload_file(tmp_path, "solar.txt", ARTICLE), _upload_file(tmp_path, "more.zip", archive)]))
    status = steps[-1][0]
    assert status.count("<li") == 4 and "__MACOSX" not in status
    assert "solar.txt — added" in status and "more.zip › rail.txt — added" in status
    assert "more.zip › a/b.txt — not added: inside a folder" in status and "more.zip › empty.md — not added" in status
    assert any('class="busy"' in step[0] for step in steps[:-1])  # a line per file while it is added
    assert {d.path for d in handlers.retriever.documents} >= {"solar.txt", "rail.txt"}


def test_zips_that_are_too_big_too_many_or_not_zips_are_refused_whole():
    import zipfile

    from qa.errors import DocumentError
    from qa.uploads.archive import read_members

    bomb = _zip({"bomb.txt": b"0" * 5_000_000}, zipfile.ZIP_DEFLATED)
    assert len(bomb) < 50_000
    with pytest.raises(DocumentError, match="unpacks to more than 1,000,000 bytes"):
        read_members(bomb, "bomb.zip", max_member_bytes=10_000_000, max_total_bytes=1_000_000)
    [member] = read_members(bomb, "bomb.zip", max_member_bytes=1_000)
    assert member.data is None and "upload limit" in member.reason
    with pytest.raises(DocumentError, match="holds 3 files, more than the 2"):
        read_members(_zip({f"{i}.txt": b"x" for i in range(3)}), "many.zip", max_members=2)
    with pytest.raises(DocumentError, match="not a readable .zip"):
        read_members(b"PK\x03\x04 nothing", "broken.zip")
    assert [m.reason is None for m in read_members(_zip({"../up.txt": b"x", "/abs.txt": b"x", "ok.txt": b"x"}), "z.zip")] == \
        [False, False, True]


def test_with_the_learned_ranking_the_verdict_reads_its_calibrated_probability(tmp_path, monkeypatch):
    from qa.ranking import Fusion, calibration

    retriever, docs = corpus(tmp_path)
    retriever.fusion = Fusion.learned()
    handlers = web.Handlers(retriever, docs)
    question = "When did formal diplomatic relations begin?"
    _, history, turns, _, _, _ = handlers.respond(question, [], [])
    result = turns[-1].result
    assert result.found and result.confidence >= calibration.SURE_PROBABILITY
    assert "Answers the question" in history[-1]["content"]
    # The same probability under a stricter yardstick is only "may answer": the verdict reads
    # the fusion's ``sure``, not the found threshold plus the uncalibrated margin.
    monkeypatch.setattr(calibration, "SURE_PROBABILITY", min(0.999, result.confidence + 0.01))
    _, history, _, _, _, _ = handlers.respond(question, [], [])
    assert "May answer the question" in history[-1]["content"]
    _, history, turns, _, _, _ = handlers.respond("What is the capital of Australia?", [], [])
    assert not turns[-1].result.found and "Related only" in history[-1]["content"]
