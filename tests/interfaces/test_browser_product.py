"""The chat as a product (issue 12), in headless Chromium: one truth across sessions, the
chat's own buttons, phones, trust, filters and a real Documents tab."""

from __future__ import annotations

import io
import zipfile

import pytest
from app_support import DISTRACTOR
from browser_support import ARTICLE, BOT, ask, browser, browser_ready, open_page, page, server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser
browser_ready()

PHONE = {"width": 390, "height": 844}
REFRESH_WAIT_MS = 15_000  # a page polls the index every few seconds (page.REFRESH_SECONDS)


def upload(page, *paths) -> None:
    page.get_by_role("tab", name="Documents").click()
    page.set_input_files('#upload input[type="file"]', [str(p) for p in paths])
    page.wait_for_function("() => { const s = document.querySelector('#upload-status');"
                           " return s && s.querySelector('li') && !s.querySelector('li.busy'); }")


def in_view(page, selector: str) -> bool:
    return page.evaluate("""(sel) => { const r = document.querySelector(sel).getBoundingClientRect();
        return r.bottom > 0 && r.top < window.innerHeight && r.height > 0; }""", selector)


# 1 -- every page reads the live index ------------------------------------------------------

def test_a_change_in_one_session_shows_in_every_page_and_after_a_reload(browser, server, tmp_path):
    other = open_page(browser, server)  # open before the upload
    mine = open_page(browser, server)
    try:
        (tmp_path / "wind-farm.txt").write_text("Wind Farm Opens In Loja\n\nThe wind farm near Loja powers 3,000 homes.\n")
        upload(mine, tmp_path / "wind-farm.txt")
        other.wait_for_function("() => document.querySelector('.qa-stats').textContent.includes('2 articles')",
                                timeout=REFRESH_WAIT_MS)
        other.get_by_role("tab", name="Documents").click()
        other.wait_for_function("() => document.querySelector('#documents').innerText.includes('Wind Farm Opens In Loja')",
                                timeout=REFRESH_WAIT_MS)
        fresh = open_page(browser, server)
        try:
            fresh.wait_for_function("() => document.querySelector('.qa-stats').textContent.includes('2 articles')",
                                    timeout=REFRESH_WAIT_MS)
            fresh.get_by_role("tab", name="Documents").click()
            assert "Wind Farm Opens In Loja" in fresh.locator("#documents").inner_text()
            fresh.get_by_label("Remove an article").click()
            assert fresh.get_by_role("option", name="Wind Farm Opens In Loja (wind-farm.txt)").count() == 1
            fresh.keyboard.press("Escape")
            fresh.get_by_role("tab", name="Ask").click()
            fresh.get_by_label("Open a citation or an article").click()
            assert fresh.get_by_role("option", name="Wind Farm Opens In Loja (wind-farm.txt)").count() == 1
        finally:
            fresh.context.close()
    finally:
        other.context.close()
        mine.context.close()


# 2 -- the chat's own trash button ------------------------------------------------------------

def test_the_chats_clear_button_forgets_the_conversation(page):
    ask(page, "Who is the president of Ecuador?")
    page.locator('#chat button[aria-label="Clear"]').click()
    page.wait_for_function(f"document.querySelectorAll('{BOT}').length === 0")
    answer = ask(page, "What did he say about the hostages?")
    assert "Read as a follow-up" not in answer


# 4 -- copy buttons copy Markdown -----------------------------------------------------------

def test_copy_buttons_copy_the_answer_as_markdown(browser, server):
    page = open_page(browser, server, permissions=["clipboard-read", "clipboard-write"])
    try:
        ask(page, "Who is the president of Ecuador?")
        page.locator(BOT).first.hover()
        page.locator('#chat button[aria-label="Copy message"]').last.click()
        page.wait_for_timeout(300)
        copied = page.evaluate("navigator.clipboard.readText()")
        assert "<div" not in copied and "class=" not in copied
        assert "> [1] “President Daniel Noboa of Ecuador" in copied
        assert "Ecuador And Israel Cement Security Alliance As Jerusalem Office Opens · The Rio Times · 2025-05-05" in copied
        assert "**Answers the question.**" in copied
        page.locator('#chat button[aria-label="Copy conversation"]').click()
        page.wait_for_timeout(300)
        everything = page.evaluate("navigator.clipboard.readText()")
        assert "**Question:** Who is the president of Ecuador?" in everything and "The Rio Times" in everything
        assert "<div" not in everything
    finally:
        page.context.close()


# 5 -- phones -----------------------------------------------------------------------------

def test_on_a_phone_a_citation_opens_where_the_reader_is_and_leads_back(browser, server):
    page = open_page(browser, server, viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        fits = page.evaluate("""() => { const t = document.querySelector('#question textarea');
            const c = document.createElement('canvas').getContext('2d'); const s = getComputedStyle(t);
            c.font = `${s.fontSize} ${s.fontFamily}`;
            const room = t.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight);
            return c.measureText(t.placeholder).width <= room; }""")
        assert fits, "the question's placeholder is cut off"
        ask(page, "What did he say about the hostages?")
        page.locator(f"{BOT} a.qa-open").nth(1).tap()
        page.locator("#viewer mark.qa-focus").wait_for()
        page.wait_for_function("""() => { const m = document.querySelector('#viewer mark.qa-focus').getBoundingClientRect();
            return m.top >= 0 && m.bottom <= window.innerHeight; }""")
        page.locator("#qa-back").tap()
        page.wait_for_function("""() => { const c = document.querySelectorAll('#chat .qa-cite')[1].getBoundingClientRect();
            return c.bottom > 0 && c.top < window.innerHeight; }""")
    finally:
        page.context.close()


# 6 -- the page opens at its top ----------------------------------------------------------

@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 720}, PHONE])
def test_the_page_opens_at_the_top_with_title_count_and_documents_tab_in_view(browser, server, viewport):
    page = open_page(browser, server, viewport=viewport)
    try:
        page.wait_for_timeout(1_500)  # past the page's own focusing
        assert page.evaluate("window.scrollY") == 0
        assert in_view(page, ".qa-header h1") and in_view(page, ".qa-stats")
        assert page.get_by_role("tab", name="Documents").is_visible()
        assert page.evaluate("document.getElementById('qa-back') !== null")
    finally:
        page.context.close()


# 7 -- one measure a person can read ---------------------------------------------------------

def test_answers_show_one_verdict_and_the_scores_only_on_request(page):
    answer = ask(page, "Who is the president of Ecuador?")
    assert "Answers the question" in answer and "score" not in answer.lower() and "similarity" not in answer
    page.locator(f"{BOT} details.qa-scores summary").first.click()
    assert "answer confidence" in page.locator(f"{BOT} details.qa-scores").first.inner_text()
    answer = ask(page, "What is the capital of France?")
    assert "Related only" in answer and "similarity" not in answer


# 8 -- long questions, nested quotes, one status line per file ---------------------------------

def test_a_very_long_question_is_shown_cut_with_a_note(page):
    question = "Who is the president of Ecuador? " + "blah " * 1_000
    ask(page, question)
    shown = page.locator('#chat [data-testid="user"]').last.inner_text()
    assert len(shown) < 600 and "…" in shown
    assert f"{len(question):,} characters; the first 2,000 were searched" in shown
    assert len(page.locator("#viewer .qa-legend").inner_text()) < 250


def test_a_quote_inside_a_sentence_does_not_end_in_two_quotation_marks(page):
    answer = ask(page, "Who welcomed Noboa and called him a great friend?")
    assert 'a great friend."' in answer and 'friend."”' not in answer


def test_each_upload_replaces_the_status_with_one_line_per_file(page, tmp_path):
    (tmp_path / "solar-farm.txt").write_text(ARTICLE)
    (tmp_path / "blank.md").write_text("")
    upload(page, tmp_path / "solar-farm.txt", tmp_path / "blank.md")
    lines = page.locator("#upload-status li")
    assert lines.count() == 2
    assert "solar-farm.txt — added" in lines.nth(0).inner_text() and "blank.md — not added" in lines.nth(1).inner_text()
    assert page.locator(".progress-bar, .eta-bar").count() <= 1
    huge = tmp_path / "huge.txt"
    huge.write_bytes(b"Huge Story\n\n" + b"All work and no play. " * 500_000)  # over the 10 MB cap
    page.set_input_files('#upload input[type="file"]', str(huge))
    page.wait_for_selector("#upload-status li.bad >> text=huge.txt")
    assert page.locator("#upload-status li").count() == 1 and page.locator("#upload-status .ok").count() == 0


# 9, 13 -- examples follow the articles; a real Documents tab ------------------------------------

def test_documents_tab_searches_sorts_takes_zips_and_the_examples_follow(page, tmp_path):
    (tmp_path / "summit.txt").write_text(DISTRACTOR)
    (tmp_path / "bridge.md").write_text("# Harbour Bridge Closed\n\nThe harbour bridge closed for repairs on Friday.\n")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("rail.txt", "Rail Line Reopens In Cuenca\n\nThe rail line to Cuenca reopened after two years.\n")
        z.writestr("nested/port.txt", "Port Expands\n\nThe port doubled its cranes.\n")
    (tmp_path / "more.zip").write_bytes(archive.getvalue())
    upload(page, tmp_path / "summit.txt", tmp_path / "bridge.md", tmp_path / "more.zip")
    status = page.locator("#upload-status").inner_text()
    assert "more.zip › rail.txt — added" in status and "more.zip › nested/port.txt — not added: inside a folder" in status
    page.fill("#doc-search input, #doc-search textarea", "harbour")
    page.wait_for_function("() => !document.querySelector('#documents').innerText.includes('Rail Line')")
    assert "Harbour Bridge Closed" in page.locator("#documents").inner_text()
    page.fill("#doc-search input, #doc-search textarea", "")
    page.get_by_label("Title A–Z").check()
    page.wait_for_function("() => document.querySelector('#documents').innerText.indexOf('Colombia Hosts')"
                           " < document.querySelector('#documents').innerText.indexOf('Ecuador And Israel')")
    assert "Andes Daily" in page.locator("#documents").inner_text()
    page.get_by_role("tab", name="Ask").click()
    examples = page.locator("#examples").inner_text()
    assert "Who is the president of Ecuador?" not in examples and "Colombia Hosts Regional Summit On Trade" in examples


# 10 -- date and source filters, recency words -------------------------------------------------

def test_filters_and_recency_words_limit_the_articles_and_can_be_removed(page, tmp_path):
    (tmp_path / "summit.txt").write_text(DISTRACTOR)
    (tmp_path / "undated.txt").write_text("Mountain Road Opens\n\nThe mountain road opened to traffic.\n")
    upload(page, tmp_path / "summit.txt", tmp_path / "undated.txt")
    page.get_by_role("tab", name="Ask").click()
    page.get_by_text("Filter by date and source").click()
    page.locator("#since").wait_for()
    page.wait_for_function("() => document.querySelector('#filters').innerText.includes('without a date')")
    page.fill("#since input, #since textarea", "2025-05-01")
    page.fill("#until input, #until textarea", "2025-05-31")
    answer = ask(page, "Who spoke about the hostages?")
    assert "Filtered: 2025-05-01 to 2025-05-31" in answer and "Petro" not in answer
    assert "without a date were left out" in answer or "without a date was left out" in answer
    page.fill("#since input, #since textarea", "")
    page.fill("#until input, #until textarea", "")
    answer = ask(page, "What did leaders say about hostages this week?")
    assert "as " in answer and "× remove the date range" in answer and "Noboa" not in answer
    before = page.locator(BOT).count()
    page.locator(f"{BOT} a.qa-unfilter").last.click()
    page.wait_for_function(f"document.querySelectorAll('{BOT}').length > {before}")
    again = page.locator(BOT).last.inner_text()
    assert "remove the date range" not in again and "Filtered" not in again and "Noboa" in again
