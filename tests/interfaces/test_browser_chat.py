"""End to end in headless Chromium: `python app.py` on temporary folders, used like a person would.

Set QA_UPDATE_SCREENSHOT=1 to rewrite docs/screenshot.png; otherwise it goes to a temporary folder.
"""

from __future__ import annotations

import os

import pytest
from app_support import ROOT
from browser_support import ARTICLE, BOT, ask, browser, browser_ready, page, server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser
browser_ready()


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
    ask(page, "When did formal diplomatic relations begin?")
    page.locator("#viewer mark.qa-focus").wait_for()
    # the answer phrase is highlighted inside the quote
    assert page.locator("#chat mark.qa-answer-phrase").first.inner_text() == "1949"
    page.get_by_text("Filter by date and source").click()  # the screenshot shows the filters
    page.locator("#sources").wait_for()
    page.wait_for_timeout(600)  # the chat and the viewer scroll to the new answer
    update = os.environ.get("QA_UPDATE_SCREENSHOT") == "1"
    target = ROOT / "docs" / "screenshot.png" if update else tmp_path / "screenshot.png"
    page.screenshot(path=str(target))
    assert target.stat().st_size > 20_000
