"""Reliability: an index that survives being killed mid-write, corruption that is always
detected, and bad input (huge questions, odd characters, odd encodings, hostile markup)
answered with a clear message.

The kill tests SIGKILL a real writer process at seeded random moments, then load the index
in this process: it must be exactly the generation before the write or the one being written.
"""

from __future__ import annotations

import json
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from app_support import ROOT, SEED_DOC, corpus, embedder

from qa import IndexStoreError, Retriever
from qa.render import html as render
from qa import store as store_mod
from qa.documents.loading import Document, file_sha256
from qa.uploads import add_upload

TESTS = Path(__file__).resolve().parent
FAKE_MODEL = "test/fake-model"  # the store-level kill test needs no model: vectors are made up
DIM = 32
SENTENCES = 20_000  # ~50 ms per save here: long enough for kills to land inside one

def search_rows(store, queries, k):
    """``store.search`` with its ids turned back into corpus rows (-1 kept)."""
    scores, ids = store.search(queries, k)
    rows = np.full(ids.shape, -1, dtype=np.int64)
    rows[ids >= 0] = store.corpus.rows(ids[ids >= 0])
    return scores, rows



def labelled_store(label: int) -> store_mod.LocalStore:
    """A deterministic store whose every part (documents, spans, vectors) says which ``label`` made it."""
    rng = np.random.default_rng(label)
    half = SENTENCES // 2
    docs = tuple(Document(f"label-{label}-{i}.txt", f"Label {label} document {i}", f"{label:>8} " * half,
                          f"sha-{label}-{i}") for i in range(2))
    spans = np.array([(i, j * 9, j * 9 + 8, j // 10, 0) for i in range(2) for j in range(half)], dtype=np.int32)
    vectors = rng.standard_normal((SENTENCES, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return store_mod.LocalStore(FAKE_MODEL, DIM, store_mod.Corpus(docs, spans), vectors)


def label_of(store: store_mod.LocalStore) -> int:
    return int(store.corpus.documents[0].path.split("-")[1])


# The writer: saves labelled stores one after another until killed, printing each label
# once its save has returned (so a label printed is certainly on disk).
SAVE_LOOP = """
import sys
sys.path[:0] = [{tests!r}, {shared!r}]
from test_reliability import labelled_store
from qa import store as index
label = int(sys.argv[2])
print("ready", flush=True)
while True:
    label += 1
    index.save(labelled_store(label), sys.argv[1])
    print(label, flush=True)
"""


def _kill_after(proc: subprocess.Popen, delay: float) -> list[str]:
    """Wait for the child to say it is ready, let it work ``delay`` seconds, SIGKILL it; its output lines."""
    ready = proc.stdout.readline().strip()
    assert ready == "ready", ready + proc.stderr.read()
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate(timeout=30)
    # A child may finish before the kill (an update embeds one file in well under a second
    # with the ONNX Runtime encoder); it must then have said so.
    assert proc.returncode == -signal.SIGKILL or (proc.returncode == 0 and out.split()[-1:] == ["done"]), proc.returncode
    return out.split()


def test_index_killed_at_random_moments_of_a_save_is_always_the_old_or_the_new_generation(tmp_path):
    index_dir = tmp_path / "index"
    store_mod.save(labelled_store(1), index_dir)
    rng = random.Random(20250601)
    last, outcomes = 1, []
    for trial in range(12):
        proc = subprocess.Popen([sys.executable, "-c", SAVE_LOOP.format(tests=str(TESTS), shared=str(TESTS.parent)), str(index_dir), str(last)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        done = [int(x) for x in _kill_after(proc, rng.uniform(0.0, 0.35))]
        finished = done[-1] if done else last
        loaded = store_mod.load(index_dir, model=FAKE_MODEL, dimension=DIM)
        label = label_of(loaded)
        # Old: the last save that returned; new: the one in flight when the kill came.
        assert label in (finished, finished + 1), (trial, label, finished)
        expected = labelled_store(label)
        assert loaded.corpus.documents == expected.corpus.documents
        assert np.array_equal(loaded.corpus.spans, expected.corpus.spans) and np.array_equal(loaded.matrix, expected.matrix)
        scores, rows = search_rows(loaded, expected.matrix[123:124], 1)  # it answers, from its own vectors
        assert rows[0][0] == 123 and scores[0][0] == pytest.approx(1.0, abs=1e-5)
        outcomes.append((len(done), label == finished + 1))
        print(f"trial {trial}: {len(done)} saves completed, loaded the {'new' if label == finished + 1 else 'old'} one")
        last = label
    # Leftovers of killed saves never pile up: one generation folder, no temporary files.
    store_mod.save(labelled_store(last + 1), index_dir)
    assert sorted(p.name for p in index_dir.iterdir() if p.name != ".lock") == ["gen-" + f"{_generation(index_dir):06d}",
                                                                                "manifest.json"]
    # The trials really killed saves in flight and after completed ones (not only before any began).
    assert sum(n for n, _ in outcomes) > 0, outcomes


def _generation(index_dir: Path) -> int:
    return json.loads((index_dir / "manifest.json").read_text())["generation"]


# The real thing: a Retriever bringing its index up to date with a folder that gained a file.
UPDATE = """
import sys
from qa import Retriever
from qa.embedding import Embedder
embedder = Embedder()
embedder.encode(["warm up"])
print("ready", flush=True)
Retriever.from_directory(sys.argv[1], index_dir=sys.argv[2], embedder=embedder)
print("done", flush=True)
"""


def test_retriever_killed_while_updating_its_index_leaves_one_that_loads_and_answers(tmp_path):
    retriever, docs = corpus(tmp_path)
    index_dir = tmp_path / "index"
    before = {d.path for d in retriever.documents}
    rng = random.Random(7)
    # Two trials: each child pays seconds to load the model (the many-trial test above needs none).
    for trial in range(2):
        name = f"solar-{trial}.txt"
        (docs / name).write_text(f"Solar Farm {trial} Opens\n\nThe solar farm number {trial} powers {trial + 1},000 homes.\n")
        proc = subprocess.Popen([sys.executable, "-c", UPDATE, str(docs), str(index_dir)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=ROOT)
        out = _kill_after(proc, rng.uniform(0.0, 0.6))
        reopened = Retriever(index_dir, embedder=embedder()).load()
        paths = {d.path for d in reopened.documents}
        assert paths in (before, before | {name}), (trial, paths, out)
        if out[-1:] == ["done"]:
            assert paths == before | {name}
        before = paths
        hit = reopened.search("Who is the president of Ecuador?", k=1).hits[0]
        assert "Noboa" in hit.text
    # Whatever the kills left, the next start-up catches up with the folder.
    final = Retriever.from_directory(docs, index_dir=index_dir, embedder=embedder())
    assert {d.path for d in final.documents} == {SEED_DOC, "solar-0.txt", "solar-1.txt"}
    assert final.search("How many homes does solar farm number 1 power?", k=1).hits[0].text == \
        "The solar farm number 1 powers 2,000 homes."


def test_save_after_a_crash_between_folder_and_manifest_clears_the_leftovers(tmp_path):
    index_dir = tmp_path / "index"
    saved = store_mod.save(labelled_store(1), index_dir)
    # What a save killed after renaming its folder (but before switching the manifest) leaves:
    # an orphan folder with the next generation's name, a temporary folder and manifest.
    orphan = index_dir / f"gen-{saved.generation + 1:06d}"
    orphan.mkdir()
    (orphan / "vectors.npy").write_bytes(b"half written")
    (index_dir / f".gen-{saved.generation + 1:06d}.abc123").mkdir()
    (index_dir / ".manifest.json.999.tmp").write_text("{")
    assert label_of(store_mod.load(index_dir)) == 1  # the old generation still loads
    store_mod.save(labelled_store(2), index_dir)
    assert label_of(store_mod.load(index_dir)) == 2
    assert sorted(p.name for p in index_dir.iterdir() if p.name != ".lock") == [orphan.name, "manifest.json"]
    assert (orphan / "documents.jsonl").exists()  # the folder now holds the real generation


# -- corruption is always detected --------------------------------------------------------

def _damage(index_dir: Path, how: str) -> None:
    manifest_path = index_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    gen = index_dir / manifest["folder"]
    kind, _, name = how.partition(":")
    if kind == "truncate":
        data = (gen / name).read_bytes()
        (gen / name).write_bytes(data[: len(data) // 2])
    elif kind == "empty":
        (gen / name).write_bytes(b"")
    elif kind == "flip":
        data = bytearray((gen / name).read_bytes())
        data[len(data) // 2] ^= 0x01
        (gen / name).write_bytes(bytes(data))
    elif kind == "delete":
        (gen / name).unlink()
    elif kind == "manifest-truncated":
        manifest_path.write_bytes(manifest_path.read_bytes()[:100])
    elif kind == "manifest-empty":
        manifest_path.write_bytes(b"")
    elif kind == "manifest-missing-key":
        del manifest[name]
        manifest_path.write_text(json.dumps(manifest))
    elif kind == "manifest-no-files":
        manifest["files"] = {}
        manifest_path.write_text(json.dumps(manifest))
    elif kind == "manifest-folder":
        manifest["folder"] = name
        manifest_path.write_text(json.dumps(manifest))
    elif kind == "forged-spans":
        # Checksums recomputed: spans that point past their documents are still caught.
        spans = np.load(gen / "spans.npy")
        spans[-1, 2] = 10**9
        np.save(gen / "spans.npy", spans)
        manifest["files"]["spans.npy"] = {"sha256": file_sha256(gen / "spans.npy"),
                                         "bytes": (gen / "spans.npy").stat().st_size}
        manifest_path.write_text(json.dumps(manifest))
    else:
        raise AssertionError(how)


DAMAGE = ["truncate:documents.jsonl", "truncate:spans.npy", "truncate:vectors.npy", "empty:documents.jsonl",
          "empty:vectors.npy", "flip:documents.jsonl", "flip:spans.npy", "flip:vectors.npy", "delete:vectors.npy",
          "delete:documents.jsonl", "manifest-truncated", "manifest-empty", "manifest-missing-key:files",
          "manifest-missing-key:folder", "manifest-missing-key:sentences", "manifest-no-files",
          "manifest-folder:../outside", "manifest-folder:gen-999999", "forged-spans"]


@pytest.fixture(scope="module")
def good_index(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("good")
    corpus(root)
    return root


@pytest.mark.parametrize("how", DAMAGE)
def test_damaged_index_is_a_clear_error_never_a_silently_empty_index(good_index, tmp_path, how):
    import shutil

    index_dir = tmp_path / "index"
    shutil.copytree(good_index / "index", index_dir)
    _damage(index_dir, how)
    with pytest.raises(IndexStoreError, match="rebuild") as err:
        store_mod.load(index_dir)
    assert "\n" not in str(err.value)
    # The app's start-up path refuses it too, rather than answering from nothing.
    with pytest.raises(IndexStoreError):
        Retriever.from_directory(good_index / "docs", index_dir=index_dir, embedder=embedder())


def test_rebuild_repairs_a_damaged_index(good_index, tmp_path):
    import shutil

    index_dir = tmp_path / "index"
    shutil.copytree(good_index / "index", index_dir)
    _damage(index_dir, "manifest-truncated")
    rebuilt = Retriever.from_directory(good_index / "docs", index_dir=index_dir, embedder=embedder(), rebuild=True)
    assert "Noboa" in rebuilt.search("Who is the president of Ecuador?", k=1).hits[0].text
    assert [d.path for d in store_mod.load(index_dir).corpus.documents] == [SEED_DOC]


def test_app_start_on_a_damaged_index_is_one_readable_line(good_index, tmp_path, capsys):
    import shutil

    import app

    index_dir = tmp_path / "index"
    shutil.copytree(good_index / "index", index_dir)
    _damage(index_dir, "flip:vectors.npy")
    assert app.main(["--docs", str(good_index / "docs"), "--index", str(index_dir), "--port", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "truncated or corrupted" in err[0] and "--rebuild" in err[0]


# -- bad input ------------------------------------------------------------------------------
# Already covered elsewhere: empty and control-character questions (test_retrieval,
# test_app), binary/empty/oversized/duplicate/`../` uploads (test_uploads, test_app),
# cp1252/UTF-16 decoding (test_loading), <script>/<img onerror> in answers (test_answer).

@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    retriever, docs = corpus(root)
    return retriever, docs


def test_question_of_100000_characters_is_cut_answered_and_says_so_quickly(hostile):
    from qa.interfaces.web import Handlers

    retriever, docs = hostile
    handlers = Handlers(retriever, docs)
    question = ("Who is the president of Ecuador? " * 4000)[:100_000]
    handlers.search("warm up")
    started = time.perf_counter()
    data = handlers.search(question, k=3)
    elapsed = time.perf_counter() - started
    assert data["truncated"] is True and "Noboa" in data["hits"][0]["text"]
    # The requirement is under a second (bench/RESULTS.md has the figure); this bound only catches a hang.
    assert elapsed < 5, elapsed
    _, history, _, _, _, _ = handlers.respond(question, [], [])
    assert "Your question was long, so only its beginning was searched." in history[1]["content"]


def test_control_and_bidirectional_characters_in_a_question_never_reach_the_page_raw(hostile):
    retriever, _ = hostile
    question = "Who is\u202e the president\u2066 of \x00Ecuador?\x1b[2J\u200b"
    result = retriever.search(question, k=1)
    assert "Noboa" in result.hits[0].text
    for out in (render.question_html(question), render.answer_html(result)):
        assert not any(c in out for c in "\x00\x1b\u202e\u2066"), out


@pytest.mark.parametrize("encoding", ["cp1252", "utf-16"])
def test_cp1252_and_utf16_uploads_are_decoded_and_answerable(tmp_path, encoding):
    retriever, docs = corpus(tmp_path)
    text = "Café Prices Climb\n\nThe café on the plaza now charges €4 for a “cortado”, the owner said."
    doc = add_upload(retriever, docs, text.encode(encoding), f"cafe-{encoding}.txt")
    assert doc.title == "Café Prices Climb"
    hit = retriever.search("How much does the café charge for a cortado?", k=1).hits[0]
    assert hit.text == "The café on the plaza now charges €4 for a “cortado”, the owner said."


JS_ARTICLE = """# Council Publishes Links

The council said [the budget](javascript:alert(document.cookie)) is online now.
Residents can read <a href="javascript:alert(1)">the minutes</a> at the library.
The mayor wrote <iframe src="javascript:alert(2)"></iframe> in an email.
"""


def test_javascript_links_and_frames_in_documents_are_shown_as_text(tmp_path):
    retriever, docs = corpus(tmp_path, {"links.md": JS_ARTICLE})
    result = retriever.search("Where can residents read the minutes?", k=3)
    assert result.hits[0].sentence.doc == "links.md"
    doc = retriever.document("links.md")
    for out in (render.answer_html(result), render.article_html(doc, result.hits)):
        assert "<a href=\"javascript" not in out and "<iframe" not in out
        assert "&lt;a href=&quot;javascript:alert(1)&quot;&gt;" in out or "&lt;iframe" in out
        # Every link the page itself makes points inside the app.
        for href in re.findall(r'href="([^"]*)"', out):
            assert href.startswith("#"), href
