"""Scale: above EXACT_SEARCH_LIMIT the Store switches to an IVF index by itself (lowered limit, small data)."""

from __future__ import annotations

import numpy as np
import pytest

from qa import index as store_mod
from qa.index import Store

DIM = 32


def clustered(n: int, seed: int = 0) -> np.ndarray:
    """Unit vectors around 40 centres: structured like sentence embeddings, unlike pure noise."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(40, DIM))
    v = centres[rng.integers(0, 40, n)] + rng.normal(scale=0.35, size=(n, DIM))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def store_of(vectors: np.ndarray) -> Store:
    n = len(vectors)
    spans = np.zeros((n, 5), dtype=np.int32)
    spans[:, 1] = np.arange(n)
    spans[:, 2] = np.arange(n) + 1
    from qa.loading import Document

    doc = Document(path="d.txt", title="d", text="x" * (n + 1), sha256="0")
    return Store("m", DIM, (doc,), spans, vectors)


@pytest.fixture
def low_limit(monkeypatch):
    monkeypatch.setattr(store_mod, "EXACT_SEARCH_LIMIT", 500)
    monkeypatch.setattr(store_mod, "IVF_NPROBE", 16)


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-(queries @ vectors.T), axis=1, kind="stable")[:, :k]


def test_small_store_searches_exactly_in_float32(low_limit):
    vectors = clustered(400)
    store = store_of(vectors)
    assert not store.approximate and store.vectors.dtype == np.float32
    scores, rows = store.search(vectors[:20], 10)
    assert np.array_equal(rows, exact_top(vectors, vectors[:20], 10))
    assert np.allclose(scores, np.take_along_axis(vectors[:20] @ vectors.T, rows, axis=1), atol=1e-6)


def test_large_store_switches_to_ivf_with_high_recall(low_limit):
    vectors = clustered(4000)
    store = store_of(vectors)
    assert store.approximate and store.vectors.dtype == np.float16
    queries = clustered(100, seed=1)
    _, rows = store.search(queries, 10)
    assert isinstance(store._index(), store_mod.ApproximateIndex)
    truth = exact_top(store.vectors.astype(np.float32), queries, 10)
    recall = np.mean([len(set(rows[i]) & set(truth[i])) / 10 for i in range(len(queries))])
    assert recall >= 0.98
    # Scores are exact inner products with the stored vectors, best first.
    scores, rows = store.search(vectors[:5], 3)
    assert np.all(np.diff(scores, axis=1) <= 0)
    assert list(rows[:, 0]) == [0, 1, 2, 3, 4]


def test_ivf_marks_missing_results_with_minus_one(low_limit, monkeypatch):
    monkeypatch.setattr(store_mod, "IVF_NPROBE", 1)
    store = store_of(clustered(600))
    scores, rows = store.search(clustered(3, seed=2), 600)  # one list holds far fewer than 600
    assert rows.shape == (3, 600) and (rows == -1).any()
    assert np.all(rows[rows >= 0] < 600)
    for r in rows:  # results come first, then only -1
        valid = r >= 0
        assert not valid[np.argmin(valid):].any() or valid.all()


def test_growing_past_the_limit_changes_layout_and_round_trips(low_limit, tmp_path):
    from qa.loading import Document

    small = store_of(clustered(300))
    doc = Document(path="e.txt", title="e", text="y" * 400, sha256="1")
    from qa.sentences import Span

    spans = [Span(i, i + 1, 1) for i in range(300)]
    grown = small.changed(add=[(doc, spans, clustered(300, seed=3))])
    assert len(grown) == 600 and grown.approximate and grown.vectors.dtype == np.float16
    saved = store_mod.save(grown, tmp_path / "idx")
    loaded = store_mod.load(tmp_path / "idx")
    assert loaded.vectors.dtype == np.float16 and np.array_equal(loaded.vectors, saved.vectors)
    _, rows = loaded.search(loaded.vectors[:3].astype(np.float32), 1)
    assert list(rows[:, 0]) == [0, 1, 2]
