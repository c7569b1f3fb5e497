"""End to end in headless Chromium: `python app.py` on temporary folders, used like a person would.

Set QA_UPDATE_SCREENSHOT=1 to rewrite docs/screenshot.png; otherwise it goes to a temporary folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from app_support import ROOT, SEEDS, free_port

pytestmark = pytest.mark.browser
CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("needs Chromium at /usr/bin/chromium", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")

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


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 940})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(server["url"])
    page.wait_for_selector("#question textarea")
    yield page
    context.close()


def ask(page, question: str) -> str:
    """Type a question, press Enter, and return the text of the new answer."""
    before = page.locator(BOT).count()
    page.fill("#question textarea", question)
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.querySelectorAll('{BOT}').length > {before}")
    return page.locator(BOT).nth(before).inner_text()


def test_terminal_shows_the_index_being_built(server):
    log = server["log"].read_text()
    assert "Indexing" in log and "embedding 27 sentences" in log
    assert "Ready: 1 article, 27 sentences" in log
    assert (server["index"] / "manifest.json").exists()


def test_seed_question_gets_the_cited_sentence_and_its_article(page):
    answer = ask(page, "Who is the president of Ecuador?")
    assert "President Daniel Noboa of Ecuador" in answer
    assert "[1]" in answer and "The Rio Times" in answer and "sentence 1 of 27" in answer
    focus = page.locator("#viewer mark.qa-focus")
    focus.wait_for()
    assert "President Daniel Noboa of Ecuador" in focus.inner_text()
    assert "Ecuador And Israel Cement Security Alliance" in page.locator("#viewer h3").inner_text()


def test_follow_up_question_finds_the_hostage_sentences(page):
    ask(page, "Who is the president of Ecuador?")
    answer = ask(page, "What did he say about the hostages?")
    assert "Read as a follow-up to" in answer
    assert "He expressed support for the return of all hostages held by Hamas." in answer
    assert "Both leaders also addressed the ongoing hostage situation in Gaza" in answer


def test_clicking_a_citation_opens_the_article_at_that_sentence(page):
    ask(page, "What did he say about the hostages?")
    second = page.locator(f"{BOT} .qa-cite").nth(1)
    cited = second.locator("mark").inner_text()
    second.locator("a.qa-open").click()
    page.wait_for_function("(text) => { const m = document.querySelector('#viewer mark.qa-focus');"
                           " return m && m.textContent.includes(text); }", arg=cited[:40])
    assert page.locator("#viewer mark").count() == 3


def test_example_question_is_answered_when_clicked(page):
    page.locator("button.gallery-item", has_text="When did formal diplomatic relations begin?").click()
    page.wait_for_selector(BOT)
    assert "Formal diplomatic relations began in 1949." in page.locator(BOT).first.inner_text()


def test_unanswerable_question_is_said_plainly(page):
    answer = ask(page, "What is the capital of France?")
    assert "The documents do not answer this question." in answer
    assert "possibly related" in answer.lower()


def test_uploaded_article_is_listed_and_answered_at_once(page, server, tmp_path):
    upload = tmp_path / "solar-farm.txt"
    upload.write_text(ARTICLE)
    page.get_by_role("tab", name="Documents").click()
    page.set_input_files('#upload input[type="file"]', str(upload))
    page.wait_for_selector("#upload-status .ok")
    assert "Solar Farm Opens In Quito" in page.locator("#documents").inner_text()
    assert (server["docs"] / "solar-farm.txt").read_text() == ARTICLE
    page.get_by_role("tab", name="Ask").click()
    answer = ask(page, "How many homes does the solar farm power?")
    assert "The new solar farm near Quito powers 9,000 homes, the energy ministry said." in answer


def test_binary_upload_is_refused_with_a_clear_warning(page, server, tmp_path):
    upload = tmp_path / "photo.txt"
    upload.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 50)
    page.get_by_role("tab", name="Documents").click()
    page.set_input_files('#upload input[type="file"]', str(upload))
    toast = page.locator('[data-testid="toast-body"].warning')
    toast.wait_for()
    assert "binary" in toast.inner_text()
    assert "photo.txt" in page.locator("#upload-status .bad").inner_text()
    assert not (server["docs"] / "photo.txt").exists()


def test_upload_over_the_size_limit_is_stopped_with_a_message(page, server, tmp_path):
    upload = tmp_path / "huge.txt"
    upload.write_bytes(b"Huge Story\n\n" + b"All work and no play. " * 500_000)  # 11 MB, over the 10 MB cap
    page.get_by_role("tab", name="Documents").click()
    page.set_input_files('#upload input[type="file"]', str(upload))
    toast = page.locator('[data-testid="toast-body"].error')
    toast.wait_for()
    assert "exceed the maximum allowed size" in toast.inner_text() and "huge.txt" in toast.inner_text()
    assert not (server["docs"] / "huge.txt").exists()


def test_removed_article_leaves_the_list_and_the_folder(page, server, tmp_path):
    upload = tmp_path / "to-remove.md"
    upload.write_text("# Harbour Bridge Closed\n\nThe harbour bridge closed for repairs on Friday.\n")
    page.get_by_role("tab", name="Documents").click()
    page.set_input_files('#upload input[type="file"]', str(upload))
    page.wait_for_selector("#upload-status .ok")
    page.on("dialog", lambda dialog: dialog.accept())  # "Remove ... from the folder and the index?"
    page.get_by_label("Remove an article").click()
    page.get_by_role("option", name="Harbour Bridge Closed (to-remove.md)").click()
    page.get_by_role("button", name="Remove from folder and index").click()
    page.wait_for_selector("#upload-status .ok >> text=Removed")
    assert "Harbour Bridge Closed" not in page.locator("#documents").inner_text()
    assert not (server["docs"] / "to-remove.md").exists()


def test_screenshot_of_a_cited_answer(page, tmp_path):
    ask(page, "Who is the president of Ecuador?")
    ask(page, "What did he say about the hostages?")
    page.locator("#viewer mark.qa-focus").wait_for()
    page.wait_for_timeout(600)  # the chat and the viewer scroll to the new answer
    update = os.environ.get("QA_UPDATE_SCREENSHOT") == "1"
    target = ROOT / "docs" / "screenshot.png" if update else tmp_path / "screenshot.png"
    page.screenshot(path=str(target))
    assert target.stat().st_size > 20_000
