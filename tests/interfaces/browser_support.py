"""Browser tests' set-up (imported by tests/interfaces/test_browser_*.py): `python app.py` on temporary folders (one server per test file) and
headless Chromium (Debian's /usr/bin/chromium) driving it like a person would."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from app_support import ROOT, SEEDS, free_port

CHROMIUM = Path("/usr/bin/chromium")
try:
    from playwright import sync_api
except ImportError:  # the browser tests skip themselves (browser_ready)
    sync_api = None

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
BOT = '[data-testid="bot"]'
ARTICLE = ("Solar Farm Opens In Quito\n\nThe new solar farm near Quito powers 9,000 homes, the energy ministry said. "
           "It cost 40 million dollars and took eighteen months to build.\n")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`python app.py` on a copy of the seeds, with an index built from scratch."""
    root = tmp_path_factory.mktemp("browser")
    docs, index, log = root / "docs", root / "index", root / "app.log"
    docs.mkdir()
    for path in SEEDS.iterdir():
        (docs / path.name).write_bytes(path.read_bytes())
    port = free_port()
    env = {**os.environ, "QA_DOCS": str(docs), "QA_INDEX": str(index), "QA_PORT": str(port),
           "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"}
    env.pop("QA_HOST", None)
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=root, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        if proc.poll() is not None:
            pytest.fail(f"app.py exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            proc.terminate()
            pytest.fail(f"app.py did not start in time:\n{log.read_text()}")
        time.sleep(0.5)
    yield {"url": url, "docs": docs, "index": index, "log": log}
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def browser_ready() -> None:
    """Skip the calling test file unless Chromium and Playwright are here."""
    if not CHROMIUM.exists():
        pytest.skip("needs Chromium at /usr/bin/chromium", allow_module_level=True)
    if sync_api is None:
        pytest.skip("needs playwright (pip install -e '.[test]')", allow_module_level=True)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


def open_page(browser, server, **context_options):
    """A new browser context (its own session) on the app, loaded; close its ``.context``."""
    context = browser.new_context(**{"viewport": {"width": 1400, "height": 940}, **context_options})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(server["url"])
    page.wait_for_selector("#question textarea")
    return page


@pytest.fixture
def page(browser, server):
    page = open_page(browser, server)
    yield page
    page.context.close()


def ask(page, question: str) -> str:
    """Type a question, press Enter, and return the text of the new answer."""
    before = page.locator(BOT).count()
    page.fill("#question textarea", question)
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.querySelectorAll('{BOT}').length > {before}")
    return page.locator(BOT).nth(before).inner_text()


