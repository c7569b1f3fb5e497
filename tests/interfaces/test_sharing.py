"""Sharing: the chat refuses to be reachable by others unless the owner chose a login or read-only."""

from __future__ import annotations

import subprocess
import sys

import pytest
from app_support import ROOT

from qa.interfaces.sharing import Sharing, SharingError, check_exposure, is_loopback, parse_auth


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost"])
def test_loopback_needs_nothing(host):
    assert is_loopback(host)
    check_exposure(host, Sharing())


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "example.org"])
def test_another_host_needs_a_login_or_read_only(host):
    with pytest.raises(SharingError, match="--auth USER:PASSWORD"):
        check_exposure(host, Sharing())
    check_exposure(host, Sharing(auth=(("ana", "pw"),)))
    check_exposure(host, Sharing(read_only=True))


@pytest.mark.parametrize("bad", ["ana", ":pw", "ana:", "ana:pw,ben"])
def test_a_malformed_login_says_what_to_write(bad):
    with pytest.raises(SharingError, match="USER:PASSWORD"):
        parse_auth(bad)


def run_app(*args, env=None):
    return subprocess.run([sys.executable, "app.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", **(env or {})})


def test_starting_on_all_interfaces_without_a_choice_exits_with_how_to_allow_it():
    done = run_app("--host", "0.0.0.0")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]  # one line
    assert "--auth" in done.stderr and "--read-only" in done.stderr


def test_gradios_own_server_name_is_honoured():
    done = run_app(env={"GRADIO_SERVER_NAME": "0.0.0.0"})
    assert done.returncode == 2 and "0.0.0.0" in done.stderr


def test_settings_come_from_flags_then_qa_then_gradio_variables(monkeypatch):
    import app

    monkeypatch.setenv("GRADIO_SERVER_NAME", "10.0.0.1")
    monkeypatch.setenv("GRADIO_SERVER_PORT", "7001")
    monkeypatch.setenv("QA_AUTH", "ana:pw")
    args = app.parse_args([])
    assert (args.host, args.port, args.auth, args.read_only) == ("10.0.0.1", 7001, "ana:pw", False)
    monkeypatch.setenv("QA_HOST", "127.0.0.2")
    monkeypatch.setenv("QA_READ_ONLY", "1")
    args = app.parse_args(["--port", "7002"])
    assert (args.host, args.port, args.read_only) == ("127.0.0.2", 7002, True)


def test_a_read_only_chat_refuses_uploads_and_removals_in_its_handlers(tmp_path):
    from app_support import SEED_DOC, corpus, folder_state

    from qa.interfaces.web import Handlers

    retriever, docs = corpus(tmp_path)
    before = folder_state(docs)
    handlers = Handlers(retriever, docs, read_only=True)
    new = tmp_path / "new.txt"
    new.write_text("Solar Farm Opens\n\nThe farm powers 9,000 homes.", encoding="utf-8")
    status = list(handlers.upload([str(new)]))[-1][0]
    assert "read-only" in status
    assert "read-only" in handlers.remove(SEED_DOC)[0]
    assert folder_state(docs) == before and [d.path for d in retriever.documents] == [SEED_DOC]


def test_a_login_guards_both_http_routes_of_search_and_read_only_refuses_uploads_over_http(tmp_path):
    import httpx
    from app_support import SEED_DOC, corpus, folder_state, free_port

    import app
    from qa.interfaces.web.library import DEFAULT_SORT

    retriever, docs = corpus(tmp_path)
    before = folder_state(docs)
    demo = app.build_app(retriever, docs, read_only=True)
    demo.queue(default_concurrency_limit=4)
    settings = app.launch_settings("127.0.0.1", free_port(), docs, tmp_path / "index")
    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True, auth=[("reader", "s3cret")], **settings)
    url = url.rstrip("/")
    body = {"data": ["Who is the president of Ecuador?", 3, "", "", "", ""], "session_hash": "t1"}
    try:
        with httpx.Client(timeout=60) as anonymous:
            # The direct route (one POST) and the queued one (POST, then the event stream).
            assert anonymous.post(f"{url}/gradio_api/run/search", json=body).status_code == 401
            assert anonymous.post(f"{url}/gradio_api/call/search", json=body).status_code == 401
        with httpx.Client(timeout=60) as reader:
            assert reader.post(f"{url}/login", data={"username": "reader", "password": "wrong"}).status_code == 400
            assert reader.post(f"{url}/login", data={"username": "reader", "password": "s3cret"}).status_code == 200
            answered = reader.post(f"{url}/gradio_api/run/search", json=body)
            assert answered.status_code == 200, answered.text[:300]
            hits = answered.json()["data"][0]["hits"]
            assert hits and hits[0]["doc"] == SEED_DOC
            # Logged in, a read-only app still refuses to change the folder over HTTP.
            stored = reader.post(f"{url}/gradio_api/upload", files={"files": ("new.txt", b"Solar Farm\n\nIt powers homes.")})
            stored.raise_for_status()
            started = reader.post(f"{url}/gradio_api/call/upload", json={"data": [
                [{"path": stored.json()[0], "orig_name": "new.txt", "meta": {"_type": "gradio.FileData"}}], "", DEFAULT_SORT]})
            streamed = reader.get(f"{url}/gradio_api/call/upload/{started.json()['event_id']}").text
            assert "read-only" in streamed, streamed[-500:]
    finally:
        demo.close()
    assert folder_state(docs) == before and [d.path for d in retriever.documents] == [SEED_DOC]
