"""Web security against a live server: loopback only, no share link, capped uploads, nothing
served outside gradio's own files (however the path is spelled), no cross-origin access,
hostile documents never run in a browser, and a gradio with the file-access fixes.

test_app.py already checks the launch settings themselves and three plain file requests.
"""

from __future__ import annotations

import socket
from pathlib import Path

import gradio as gr
import httpx
import psutil
import pytest
from app_support import ROOT, SEED_DOC, corpus, free_port

import app

pytestmark = pytest.mark.filterwarnings("ignore:.*(no_silent_downcasting|copy keyword).*")
MAX_UPLOAD = 64 * 1024
DOC_SECRET = "VAULT-CODE-4417"  # only in a document's body (and so in the index files)
OUTSIDE_SECRET = "OUTSIDE-SECRET-9931"  # in a file next to, not inside, the served folders
HOSTILE = """# Council Notes <img src=x onerror="window.__pwned='title'">

The council clerk wrote <script>window.__pwned='script'</script> in the minutes of the meeting.
Residents can open [the budget](javascript:window.__pwned='md-link') or <a href="javascript:window.__pwned='a'">the minutes</a> online.
A resident posted <img src=x onerror="window.__pwned='img'"> and <svg onload="window.__pwned='svg'"></svg> to the forum.
"""

# Advisories about reading or writing files through a gradio server, with the release that
# fixed each (GitHub advisory database / NVD). The installed gradio must be at least the last.
FILE_ACCESS_ADVISORIES = {
    "CVE-2023-51449 / GHSA-6qm2-wpxq-7qh2 (/file route path traversal)": "4.11.0",
    "CVE-2024-1561 (arbitrary file read via /component_server)": "4.13.0",
    "CVE-2024-1728 (local file inclusion through uploaded file paths)": "4.19.2",
    "CVE-2024-47164 / GHSA-77xq-6g77-h274 (is_in_or_equal traversal bypass)": "5.0.0",
    "CVE-2024-47166 / GHSA-37qc-qgx6-9xjv (one-level read traversal in /custom_component)": "5.0.0",
    "CVE-2025-23042 / GHSA-j2jg-fq62-7c3h (blocked_paths bypass by letter case)": "5.11.0",
    "CVE-2025-48889 / GHSA-8jw3-6x8j-v96g (arbitrary file copy through flagging)": "5.31.0",
    "CVE-2026-28414 / GHSA-39mp-8hj3-5c49 (absolute path traversal via /static/ on Windows)": "6.7.0",
    "GHSA-j36p-7w88-g82j (FileExplorer path traversal)": "6.16.0",
}


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("+")[0].split(".")[:3] if part.isdigit())


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("secure")
    (root / "outside.txt").write_text(OUTSIDE_SECRET)
    retriever, docs = corpus(root, {"memo.txt": f"Office Memo\n\nThe vault code is {DOC_SECRET} until June.\n",
                                    "hostile.md": HOSTILE})
    demo = app.build_app(retriever, docs, max_upload_bytes=MAX_UPLOAD)
    demo.queue(default_concurrency_limit=4)
    port = free_port()
    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True,
                            **app.launch_settings("127.0.0.1", port, docs, root / "index", MAX_UPLOAD))
    yield {"url": url.rstrip("/"), "port": port, "docs": docs, "index": root / "index", "root": root, "demo": demo}
    demo.close()


def raw_get(port: int, target: str, headers: str = "") -> tuple[int, bytes]:
    """GET exactly ``target`` (no client-side normalising of ``..`` or %-escapes); (status, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{headers}Connection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


def test_server_listens_on_loopback_only_and_opens_no_share_link(server):
    listening = [c for c in psutil.net_connections(kind="tcp")
                 if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == server["port"]]
    assert listening and {c.laddr.ip for c in listening} == {"127.0.0.1"}
    assert server["demo"].share_url is None


def _targets(server) -> list[str]:
    docs, index, root = server["docs"], server["index"], server["root"]
    gen = next(index.glob("gen-*"))
    cache = Path(gr.utils.get_upload_folder())
    return [
        "/gradio_api/file=/etc/passwd", "/file=/etc/passwd", "/gradio_api/file=/proc/self/environ",
        f"/gradio_api/file={index}/manifest.json", f"/gradio_api/file={gen}/documents.jsonl",
        f"/gradio_api/file={gen}/vectors.npy", f"/gradio_api/file={docs}/memo.txt", f"/gradio_api/file={docs}/{SEED_DOC}",
        f"/gradio_api/file={root}/outside.txt", f"/gradio_api/file={ROOT}/app.py", "/gradio_api/file=app.py",
        # ".." tricks, from gradio's own upload cache (an allowed folder) and from nowhere
        f"/gradio_api/file={cache}/../../etc/passwd", f"/gradio_api/file={cache}/..%2F..%2Fetc%2Fpasswd",
        f"/gradio_api/file={cache}/%2e%2e/%2e%2e/etc/passwd", f"/gradio_api/file={cache}/%252e%252e/%252e%252e/etc/passwd",
        f"/gradio_api/file={cache}/../../{root}/outside.txt", f"/gradio_api/file={docs}/../index/manifest.json",
        "/gradio_api/file=../../../../etc/passwd", "/gradio_api/file=..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "/gradio_api/file=%2Fetc%2Fpasswd", "/gradio_api/file=%252Fetc%252Fpasswd", "/gradio_api/file=//etc/passwd",
        "/gradio_api/file=\\etc\\passwd", "/gradio_api/file=/etc/passwd%00.txt",
        f"/gradio_api/file={str(docs).upper()}/MEMO.TXT",
        "/gradio_api/static/../../../../etc/passwd", "/gradio_api/static/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "/static/../../../etc/passwd", "/static/..%2F..%2F..%2Fetc%2Fpasswd", "/assets/..%2F..%2F..%2Fetc%2Fpasswd",
        "/gradio_api/custom_component/x/component/../../../../etc/passwd", "/custom_component/x/../../../etc/passwd",
        f"/gradio_api/proxy=http://127.0.0.1:{server['port']}/config",
    ]


def test_files_outside_the_allowed_paths_are_refused_however_the_path_is_spelled(server):
    served = []
    for target in _targets(server):
        status, body = raw_get(server["port"], target)
        leaked = [s for s in (b"root:x:0:0", DOC_SECRET.encode(), OUTSIDE_SECRET.encode(), b'"folder"', b"PATH=",
                              b"import gradio") if s in body]
        if status not in (400, 403, 404) or leaked:
            served.append((target, status, leaked))
    assert not served


def test_an_uploaded_file_is_served_so_the_refusals_are_not_blanket(server):
    stored = httpx.post(f"{server['url']}/gradio_api/upload", files={"files": ("note.txt", b"harmless upload")}, timeout=30)
    stored.raise_for_status()
    status, body = raw_get(server["port"], f"/gradio_api/file={stored.json()[0]}")
    assert (status, body) == (200, b"harmless upload")


def test_upload_over_the_maximum_size_is_refused_by_the_server(server):
    before = sorted(p.name for p in server["docs"].iterdir())
    response = httpx.post(f"{server['url']}/gradio_api/upload", timeout=30,
                          files={"files": ("big.txt", b"Big News\n\n" + b"word " * (MAX_UPLOAD // 4))})
    assert response.status_code == 413, response.text
    assert sorted(p.name for p in server["docs"].iterdir()) == before


@pytest.mark.parametrize("origin", ["https://evil.example", "null"])
def test_other_origins_get_no_cross_origin_access(server, origin):
    response = httpx.get(f"{server['url']}/config", headers={"Origin": origin}, timeout=30)
    allowed = response.headers.get("access-control-allow-origin")
    assert response.status_code == 200 and allowed in (None, "http://127.0.0.1", f"http://127.0.0.1:{server['port']}"), allowed


def test_installed_gradio_includes_the_fixes_for_known_file_access_advisories():
    needed = max(FILE_ACCESS_ADVISORIES.values(), key=_version)
    assert _version(gr.__version__) >= _version(needed), f"gradio {gr.__version__} < {needed}: upgrade gradio"
    assert needed == "6.16.0"  # the newest fix listed; update the table and this line together


# -- in a real browser ---------------------------------------------------------------------

@pytest.mark.browser
def test_hostile_document_markup_never_runs_in_the_browser(server):
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("needs Chromium at /usr/bin/chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                    args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 940})
            page.set_default_timeout(30_000)
            dialogs = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(server["url"])
            page.wait_for_selector("#question textarea")
            page.fill("#question textarea", "What did the council clerk write in the minutes of the meeting?")
            page.keyboard.press("Enter")
            page.wait_for_selector('[data-testid="bot"]')
            page.wait_for_function("document.querySelector('#viewer').innerText.includes('council clerk')")
            answer = page.locator('[data-testid="bot"]').first.inner_text()
            assert "<script>window.__pwned='script'</script>" in answer  # shown as text, word for word
            page.get_by_role("tab", name="Documents").click()
            page.wait_for_function("document.querySelector('#documents').innerText.includes('Council Notes')")
            page.wait_for_timeout(500)  # give any injected handler (onerror, onload) time to fire
            assert page.evaluate("window.__pwned") is None and dialogs == []
            active = page.evaluate("""() => document.querySelectorAll(
                'a[href^="javascript:" i], iframe, img[onerror], svg[onload], #chat script, #viewer script').length""")
            assert active == 0
        finally:
            browser.close()
