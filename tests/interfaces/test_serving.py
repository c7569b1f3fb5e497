"""The server's per-request savings: each must reach the Gradio and uvicorn that serve the chat."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys

import gradio as gr
import pytest
import uvicorn

from qa.interfaces.web import serving, spare_per_request_work


@pytest.fixture
def restore_matplotlib():
    before = sys.modules.get("matplotlib", "absent")
    yield
    if before == "absent":
        sys.modules.pop("matplotlib", None)
    else:
        sys.modules["matplotlib"] = before


def test_the_queue_rebuilds_its_monitoring_summary_only_every_hundred_events(monkeypatch, restore_matplotlib):
    monkeypatch.delenv("GRADIO_ANALYTICS_CACHE_FREQUENCY", raising=False)
    spare_per_request_work()
    with gr.Blocks() as demo:
        gr.Button().click(lambda: None)
    demo.queue()
    # Gradio reads the setting when the queue is made; 1 (its default) would rebuild it per event.
    assert demo._queue.ANAYLTICS_CACHE_FREQUENCY == serving.MONITORING_SUMMARY_EVERY > 1


def test_a_frequency_the_operator_set_is_kept(monkeypatch, restore_matplotlib):
    monkeypatch.setenv("GRADIO_ANALYTICS_CACHE_FREQUENCY", "7")
    spare_per_request_work()
    with gr.Blocks() as demo:
        gr.Button().click(lambda: None)
    demo.queue()
    assert demo._queue.ANAYLTICS_CACHE_FREQUENCY == 7


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is not None, reason="matplotlib is installed here")
def test_an_absent_matplotlib_fails_to_import_at_once_instead_of_searching_the_path_again(monkeypatch, restore_matplotlib):
    sys.modules.pop("matplotlib", None)
    searched = []
    real_find_spec = importlib.machinery.PathFinder.find_spec

    def counting(name, *args, **kwargs):
        if name == "matplotlib":
            searched.append(name)
        return real_find_spec(name, *args, **kwargs)

    spare_per_request_work()
    monkeypatch.setattr(importlib.machinery.PathFinder, "find_spec", counting)
    for _ in range(3):
        with pytest.raises(ImportError):
            import matplotlib  # noqa: F401
    assert searched == []


def test_uvicorn_serves_with_the_compiled_http_parser_and_event_loop():
    # Gradio builds uvicorn.Config with the defaults ("auto"), which pick these when installed.
    config = uvicorn.Config(app=lambda scope, receive, send: None)
    config.load()
    assert config.http_protocol_class.__name__ == "HttpToolsProtocol"
    loop = config.get_loop_factory()()
    try:
        assert type(loop).__module__.startswith("uvloop")
    finally:
        loop.close()
