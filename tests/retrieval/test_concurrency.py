"""Concurrency: searches during rebuilds see one whole generation, simultaneous uploads all
land, and the app serves concurrent clients without errors (bench/load.py, short form)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from app_support import ROOT, SEED_DOC, corpus, free_port

from qa.interfaces.web.library import DEFAULT_SORT

from qa import store as store_mod
from qa.uploads import add_upload

pytestmark = pytest.mark.filterwarnings("ignore:.*(no_silent_downcasting|copy keyword).*")


def marker_text(n: int) -> str:
    # Padding grows with n, so every generation's marker sentence sits at other offsets:
    # spans of one generation read against another's documents would give other text.
    return (f"Marker Report {n}\n\n{'Preamble. ' * (n % 7)}The generation marker of this index is number {n}. "
            f"It was written for the concurrency test.\n")


def marker_sentence(n: int) -> str:
    return f"The generation marker of this index is number {n}."


def test_searches_during_rebuilds_each_see_exactly_one_generation(tmp_path):
    retriever, docs = corpus(tmp_path)
    index_dir = tmp_path / "index"
    (docs / "marker-0.txt").write_text(marker_text(0))
    retriever.sync(docs)
    stop = threading.Event()
    errors, seen, disk_seen = [], set(), set()

    def searcher():
        try:
            while not stop.is_set():
                result = retriever.search("What is the generation marker number of this index?", k=4)
                hits = [h for h in result.hits if h.sentence.doc.startswith("marker-")]
                markers = {int(h.sentence.doc[7:-4]) for h in hits}
                # One generation holds exactly one marker document, and each quoted sentence is
                # that document's own text (spans and documents of one generation, never mixed).
                assert len(markers) == 1, markers
                (n,) = markers
                assert all(h.text in marker_text(n) for h in hits), [h.text for h in hits]
                assert all(h.sentence.doc in (SEED_DOC, f"marker-{n}.txt") for h in result.hits)
                seen.add(n)
        except Exception as err:  # reported below with the thread's failure
            errors.append(repr(err))

    def disk_reader():
        # Another process opening the index while it is saved (the app's next start-up).
        try:
            while not stop.is_set():
                store = store_mod.load(index_dir)
                markers = {int(d.path[7:-4]) for d in store.corpus.documents if d.path.startswith("marker-")}
                assert len(markers) == 1, markers
                doc = store.corpus.documents[store.corpus.paths[f"marker-{markers.pop()}.txt"]]
                assert marker_sentence(int(doc.path[7:-4])) in doc.text
                disk_seen.add(int(doc.path[7:-4]))
        except Exception as err:
            errors.append(repr(err))

    threads = [threading.Thread(target=searcher) for _ in range(8)] + [threading.Thread(target=disk_reader) for _ in range(2)]
    for t in threads:
        t.start()
    generations = 0
    try:
        deadline = time.monotonic() + 8
        for n in range(1, 40):
            # Swap the marker document in the folder, then bring the index up to date (and save it).
            (docs / f"marker-{n}.txt").write_text(marker_text(n))
            (docs / f"marker-{n - 1}.txt").unlink()
            report = retriever.sync(docs)
            assert report.added == (f"marker-{n}.txt",) and report.removed == (f"marker-{n - 1}.txt",)
            generations = n
            if time.monotonic() > deadline or errors:
                break
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert not errors, errors[:5]
    assert generations >= 5
    # The readers really ran across the rebuilds, not only before or after them.
    assert len(seen) >= 3 and len(disk_seen) >= 3, (generations, seen, disk_seen)


def _solar(n: int) -> bytes:
    return f"Solar Farm {n} Opens\n\nSolar farm number {n} powers {n},500 homes, the ministry said.\n".encode()


def test_two_uploads_at_once_both_land(tmp_path):
    retriever, docs = corpus(tmp_path)
    barrier = threading.Barrier(2)

    def upload(n: int):
        barrier.wait()
        return add_upload(retriever, docs, _solar(n), f"solar-{n}.txt").path

    with ThreadPoolExecutor(2) as pool:
        assert sorted(pool.map(upload, (1, 2))) == ["solar-1.txt", "solar-2.txt"]
    for n in (1, 2):
        assert (docs / f"solar-{n}.txt").read_bytes() == _solar(n)
        hit = retriever.search(f"How many homes does solar farm number {n} power?", k=1).hits[0]
        assert hit.sentence.doc == f"solar-{n}.txt"
    on_disk = {d.path for d in store_mod.load(tmp_path / "index").corpus.documents}
    assert on_disk == {SEED_DOC, "solar-1.txt", "solar-2.txt"}


def test_two_uploads_through_the_app_at_once_both_land(tmp_path):
    import app

    retriever, docs = corpus(tmp_path)
    demo = app.build_app(retriever, docs)
    demo.queue(default_concurrency_limit=4)
    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True,
                            **app.launch_settings("127.0.0.1", free_port(), docs, tmp_path / "index"))
    url = url.rstrip("/")
    try:
        def upload(n: int) -> str:
            # What the browser does: send the file, then run the upload event on the stored copy.
            stored = httpx.post(f"{url}/gradio_api/upload", files={"files": (f"solar-{n}.txt", _solar(n))}, timeout=30)
            stored.raise_for_status()
            path = stored.json()[0]
            # The upload event takes the files (several at once), the documents search and the sort.
            started = httpx.post(f"{url}/gradio_api/call/upload", timeout=30, json={"data": [
                [{"path": path, "orig_name": f"solar-{n}.txt", "meta": {"_type": "gradio.FileData"}}], "", DEFAULT_SORT]})
            started.raise_for_status()
            return httpx.get(f"{url}/gradio_api/call/upload/{started.json()['event_id']}", timeout=60).text

        with ThreadPoolExecutor(2) as pool:
            outcomes = list(pool.map(upload, (1, 2)))
    finally:
        demo.close()
    for n, out in zip((1, 2), outcomes):
        assert "event: complete" in out and f"solar-{n}.txt \\u2014 added" in out, out[-1500:]  # JSON-escaped dash
        assert (docs / f"solar-{n}.txt").read_bytes() == _solar(n)
    assert {d.path for d in retriever.documents} == {SEED_DOC, "solar-1.txt", "solar-2.txt"}


def test_load_benchmark_short_form_has_no_errors(tmp_path):
    out = tmp_path / "load.json"
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "load.py"), "--clients", "4", "--requests", "5",
                           "--json", str(out), "--time-limit", "120"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    routes = json.loads(out.read_text())["routes"]
    assert set(routes) == {"call", "run"}  # the queue and the direct route, in one run
    for figures in routes.values():
        assert figures["requests"] == 20 and figures["errors"] == 0, figures
        assert figures["p50_ms"] > 0 and figures["p95_ms"] >= figures["p50_ms"]
