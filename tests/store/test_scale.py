"""Scale: above EXACT_SEARCH_LIMIT the Store switches to an IVF index by itself (lowered limit, small data)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from qa import IndexStoreError
from qa import store as store_mod
from qa.store import Corpus, LocalStore, faiss_index

DIM = 32

def search_rows(store, queries, k):
    """``store.search`` with its ids turned back into corpus rows (-1 kept)."""
    scores, ids = store.search(queries, k)
    rows = np.full(ids.shape, -1, dtype=np.int64)
    rows[ids >= 0] = store.corpus.rows(ids[ids >= 0])
    return scores, rows



def clustered(n: int, seed: int = 0) -> np.ndarray:
    """Unit vectors around 40 centres: structured like sentence embeddings, unlike pure noise."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(40, DIM))
    v = centres[rng.integers(0, 40, n)] + rng.normal(scale=0.35, size=(n, DIM))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def store_of(vectors: np.ndarray) -> LocalStore:
    n = len(vectors)
    spans = np.zeros((n, 5), dtype=np.int32)
    spans[:, 1] = np.arange(n)
    spans[:, 2] = np.arange(n) + 1
    from qa.documents.loading import Document

    doc = Document(path="d.txt", title="d", text="x" * (n + 1), sha256="0")
    return LocalStore("m", DIM, Corpus((doc,), spans), vectors)


@pytest.fixture
def low_limit(monkeypatch):
    monkeypatch.setattr(faiss_index, "EXACT_SEARCH_LIMIT", 500)
    monkeypatch.setattr(faiss_index, "IVF_NPROBE", 16)


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-(queries @ vectors.T), axis=1, kind="stable")[:, :k]


def test_small_store_searches_exactly_in_float32(low_limit):
    vectors = clustered(400)
    store = store_of(vectors)
    assert not store.approximate and store.matrix.dtype == np.float32
    scores, rows = search_rows(store, vectors[:20], 10)
    assert np.array_equal(rows, exact_top(vectors, vectors[:20], 10))
    assert np.allclose(scores, np.take_along_axis(vectors[:20] @ vectors.T, rows, axis=1), atol=1e-6)


def test_large_store_switches_to_ivf_with_high_recall(low_limit):
    vectors = clustered(4000)
    store = store_of(vectors)
    assert store.approximate and store.matrix.dtype == np.float16
    queries = clustered(100, seed=1)
    _, rows = search_rows(store, queries, 10)
    assert isinstance(store.faiss_index(), store_mod.ApproximateIndex)
    truth = exact_top(store.matrix.astype(np.float32), queries, 10)
    recall = np.mean([len(set(rows[i]) & set(truth[i])) / 10 for i in range(len(queries))])
    assert recall >= 0.98
    # Scores are exact inner products with the stored vectors, best first.
    scores, rows = search_rows(store, vectors[:5], 3)
    assert np.all(np.diff(scores, axis=1) <= 0)
    assert list(rows[:, 0]) == [0, 1, 2, 3, 4]


def test_ivf_marks_missing_results_with_minus_one(low_limit, monkeypatch):
    monkeypatch.setattr(faiss_index, "IVF_NPROBE", 1)
    store = store_of(clustered(600))
    scores, rows = search_rows(store, clustered(3, seed=2), 600)  # one list holds far fewer than 600
    assert rows.shape == (3, 600) and (rows == -1).any()
    assert np.all(rows[rows >= 0] < 600)
    for r in rows:  # results come first, then only -1
        valid = r >= 0
        assert not valid[np.argmin(valid):].any() or valid.all()


def test_growing_past_the_limit_changes_layout_and_round_trips(low_limit, tmp_path):
    from qa.documents.loading import Document

    small = store_of(clustered(300))
    doc = Document(path="e.txt", title="e", text="y" * 400, sha256="1")
    from qa.documents.sentences import Span

    spans = [Span(i, i + 1, 1) for i in range(300)]
    grown = small.changed(add=[(doc, spans, clustered(300, seed=3))])
    assert len(grown) == 600 and grown.approximate and grown.matrix.dtype == np.float16
    saved = store_mod.save(grown, tmp_path / "idx")
    loaded = store_mod.load(tmp_path / "idx")
    assert loaded.matrix.dtype == np.float16 and np.array_equal(loaded.matrix, saved.matrix)
    _, rows = search_rows(loaded, loaded.matrix[:3].astype(np.float32), 1)
    assert list(rows[:, 0]) == [0, 1, 2]


# -- a large store on disk: vectors memory-mapped, IVF index stored ------------------------

def saved_large(tmp_path, n: int = 4000) -> tuple[LocalStore, Path]:
    store = store_of(clustered(n))
    store_mod.save(store, tmp_path / "idx")
    return store, tmp_path / "idx"


def ivf_file(index_dir: Path) -> Path:
    return index_dir / json.loads((index_dir / "manifest.json").read_text())["folder"] / "ivf.faiss"


def test_saved_large_store_loads_memory_mapped_with_its_ivf_index_and_searches_alike(low_limit, tmp_path):
    built, index_dir = saved_large(tmp_path)
    manifest = json.loads((index_dir / "manifest.json").read_text())
    assert set(manifest["files"]) == {"documents.jsonl", "spans.npy", "vectors.npy", "ivf.faiss"}
    assert len(manifest["files"]["ivf.faiss"]["sha256"]) == 64
    loaded = store_mod.load(index_dir)
    assert isinstance(loaded.matrix, np.memmap) and loaded.matrix.dtype == np.float16
    assert not loaded.matrix.flags.writeable
    assert isinstance(loaded._faiss, store_mod.ApproximateIndex)  # read from disk, not rebuilt
    assert loaded._faiss.vectors is loaded.matrix
    queries = clustered(50, seed=4)
    for got, want in zip(search_rows(loaded, queries, 10), search_rows(built, queries, 10)):
        assert np.array_equal(got, want)


def test_save_maps_the_vectors_it_wrote_and_keeps_its_ivf_index(low_limit, tmp_path):
    store = store_of(clustered(4000))
    saved = store_mod.save(store, tmp_path / "idx")
    assert isinstance(saved.matrix, np.memmap) and np.array_equal(saved.matrix, store.matrix)
    assert saved._faiss.index is store._faiss.index  # built once, for the save; the search reuses it
    assert saved._faiss.vectors is saved.matrix


def test_small_store_is_read_into_memory_not_mapped(low_limit, tmp_path):
    store_mod.save(store_of(clustered(400)), tmp_path / "idx")
    loaded = store_mod.load(tmp_path / "idx")
    assert not isinstance(loaded.matrix, np.memmap) and loaded.matrix.dtype == np.float32
    assert not ivf_file(tmp_path / "idx").exists()


def test_mapped_store_still_answers_after_a_later_save_deleted_its_generation(low_limit, tmp_path):
    built, index_dir = saved_large(tmp_path)
    loaded = store_mod.load(index_dir)
    folder = index_dir / json.loads((index_dir / "manifest.json").read_text())["folder"]
    store_mod.save(store_of(clustered(4000, seed=9)), index_dir)
    assert not folder.exists()
    queries = clustered(5, seed=4)
    assert np.array_equal(search_rows(loaded, queries, 10)[1], search_rows(built, queries, 10)[1])


def _flipped(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


# (file, damage) -> (what it does to the bytes, whether the manifest's checksum is made to match)
DAMAGE = {
    ("ivf.faiss", "flip"): (lambda d: _flipped(d, len(d) // 2), False),
    ("ivf.faiss", "truncate"): (lambda d: d[:len(d) // 2], False),
    ("ivf.faiss", "garbage"): (lambda d: b"\xff" * len(d), True),  # right size and checksum, not an index
    ("vectors.npy", "flip"): (lambda d: _flipped(d, len(d) - 100), False),  # past the header: only the checksum sees it
    ("vectors.npy", "truncate"): (lambda d: d[:len(d) // 2], False),
    ("vectors.npy", "bad_shape"): (lambda d: d.replace(b"(4000, ", b"(9000, ", 1), True),  # more rows than it holds
}


@pytest.mark.parametrize("name, how", list(DAMAGE))
def test_damaged_file_of_a_large_index_is_a_one_line_error_saying_rebuild(low_limit, tmp_path, name, how):
    _, index_dir = saved_large(tmp_path)
    manifest = json.loads((index_dir / "manifest.json").read_text())
    path = index_dir / manifest["folder"] / name
    damage, checksum_matches = DAMAGE[name, how]
    data = damage(path.read_bytes())
    if checksum_matches:  # the checksum passes, so what reads the bytes after it must catch this
        manifest["files"][name]["sha256"] = hashlib.sha256(data).hexdigest()
        (index_dir / "manifest.json").write_text(json.dumps(manifest))
    path.write_bytes(data)
    with pytest.raises(IndexStoreError, match=r"rebuild with: qa index DOCS_DIR --rebuild$") as err:
        store_mod.load(index_dir)
    assert "\n" not in str(err.value) and name in str(err.value)


def test_missing_ivf_file_is_rebuilt_on_first_search(low_limit, tmp_path):
    built, index_dir = saved_large(tmp_path)
    ivf_file(index_dir).unlink()
    loaded = store_mod.load(index_dir)
    assert loaded._faiss is None and isinstance(loaded.matrix, np.memmap)
    queries = clustered(20, seed=4)
    assert np.array_equal(search_rows(loaded, queries, 10)[1], search_rows(built, queries, 10)[1])


def test_format_1_index_without_ivf_file_still_loads(low_limit, tmp_path):
    built, index_dir = saved_large(tmp_path)
    manifest = json.loads((index_dir / "manifest.json").read_text())
    manifest["format"] = 1
    del manifest["files"]["ivf.faiss"]
    (index_dir / "manifest.json").write_text(json.dumps(manifest))
    ivf_file(index_dir).unlink()
    loaded = store_mod.load(index_dir)
    queries = clustered(20, seed=4)
    assert np.array_equal(search_rows(loaded, queries, 10)[1], search_rows(built, queries, 10)[1])


def test_index_saved_on_the_other_side_of_the_switch_loads_in_the_current_layout(low_limit, monkeypatch, tmp_path):
    built, index_dir = saved_large(tmp_path, n=600)  # float16 on disk, with an IVF index
    monkeypatch.setattr(faiss_index, "EXACT_SEARCH_LIMIT", 5000)
    loaded = store_mod.load(index_dir)
    assert not loaded.approximate and loaded.matrix.dtype == np.float32 and not isinstance(loaded.matrix, np.memmap)
    assert np.array_equal(loaded.matrix, built.matrix.astype(np.float32))
    # ...and float32 vectors saved below the switch, loaded above it, become float16 in memory.
    store_mod.save(store_of(clustered(600)), tmp_path / "small")  # the limit is 5000 here
    monkeypatch.setattr(faiss_index, "EXACT_SEARCH_LIMIT", 500)
    grown = store_mod.load(tmp_path / "small")
    assert grown.approximate and grown.matrix.dtype == np.float16 and not isinstance(grown.matrix, np.memmap)
    assert np.array_equal(grown.matrix, clustered(600).astype(np.float16))
