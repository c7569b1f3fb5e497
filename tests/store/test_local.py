"""Index: persistence round trip, generations, corruption and model mismatch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from app_support import SEEDS, embedder

from qa import IndexStoreError, ModelMismatchError, Retriever
from qa import store as store_mod
from qa.store import corpus as corpus_mod

def search_rows(store, queries, k):
    """``store.search`` with its ids turned back into corpus rows (-1 kept)."""
    scores, ids = store.search(queries, k)
    rows = np.full(ids.shape, -1, dtype=np.int64)
    rows[ids >= 0] = store.corpus.rows(ids[ids >= 0])
    return scores, rows



@pytest.fixture
def built(tmp_path) -> tuple[Retriever, Path]:
    index_dir = tmp_path / "index"
    return Retriever.from_directory(SEEDS, index_dir=index_dir, embedder=embedder()), index_dir


def test_round_trip_restores_documents_spans_and_vectors(built):
    retriever, index_dir = built
    before = retriever._features.store
    after = store_mod.load(index_dir)
    assert after.corpus.documents == before.corpus.documents
    assert np.array_equal(after.corpus.spans, before.corpus.spans)
    assert np.array_equal(after.matrix, before.matrix)
    assert after.model == "sentence-transformers/all-MiniLM-L6-v2" and after.dimension == 384


def test_manifest_is_versioned_and_lists_documents_and_checksums(built):
    _, index_dir = built
    manifest = json.loads((index_dir / "manifest.json").read_text())
    assert manifest["format"] == store_mod.FORMAT_VERSION
    assert manifest["documents"][0]["path"] == "000_efff323ac530a1c5.txt"
    assert manifest["documents"][0]["sentences"] == 27
    assert set(manifest["files"]) == {"documents.jsonl", "spans.npy", "vectors.npy"}
    assert all(len(meta["sha256"]) == 64 for meta in manifest["files"].values())


def test_nothing_is_pickled(built):
    _, index_dir = built
    gen = next(index_dir.glob("gen-*"))
    for name in ("spans.npy", "vectors.npy"):
        np.load(gen / name, allow_pickle=False)  # raises if an object array was stored
    for line in (gen / "documents.jsonl").read_text().splitlines():
        json.loads(line)


def test_each_save_is_a_new_generation_and_old_ones_are_removed(built):
    retriever, index_dir = built
    first = json.loads((index_dir / "manifest.json").read_text())["generation"]
    retriever.save()
    manifest = json.loads((index_dir / "manifest.json").read_text())
    assert manifest["generation"] == first + 1
    assert [p.name for p in index_dir.glob("gen-*")] == [manifest["folder"]]


def test_corrupted_vectors_are_detected(built):
    _, index_dir = built
    vectors = next(index_dir.glob("gen-*")) / "vectors.npy"
    data = bytearray(vectors.read_bytes())
    data[-7] ^= 0xFF
    vectors.write_bytes(bytes(data))
    with pytest.raises(IndexStoreError, match="corrupted"):
        store_mod.load(index_dir)


def test_truncated_file_is_detected(built):
    _, index_dir = built
    spans = next(index_dir.glob("gen-*")) / "spans.npy"
    spans.write_bytes(spans.read_bytes()[:50])
    with pytest.raises(IndexStoreError, match="truncated"):
        Retriever(index_dir, embedder=embedder()).load()


def test_missing_or_garbled_manifest_says_how_to_rebuild(tmp_path):
    with pytest.raises(IndexStoreError, match="qa index"):
        store_mod.load(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(IndexStoreError, match="rebuild"):
        store_mod.load(tmp_path)


def test_other_format_version_is_refused(built):
    _, index_dir = built
    manifest = json.loads((index_dir / "manifest.json").read_text())
    manifest["format"] = 99
    (index_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexStoreError, match="format 99"):
        store_mod.load(index_dir)


def test_model_mismatch_names_the_fix(built):
    _, index_dir = built
    with pytest.raises(ModelMismatchError, match="--rebuild"):
        store_mod.load(index_dir, model="some/other-model")
    with pytest.raises(ModelMismatchError, match="384-dimensional"):
        store_mod.load(index_dir, dimension=768)


def test_search_returns_rows_by_inner_product(built):
    retriever, _ = built
    store = retriever._features.store
    scores, rows = search_rows(store, store.matrix[5:6], 3)
    assert rows[0][0] == 5 and scores[0][0] == pytest.approx(1.0, abs=1e-5)


def test_rows_of_finds_indexed_sentences_and_survives_changes_and_saves(built, tmp_path):
    from qa.documents.loading import Document
    from qa.documents.sentences import split_document

    retriever, _ = built
    store = retriever._features.store
    texts = [store.corpus.sentence_text(r) for r in range(len(store))]
    rows = store.corpus.rows_of(texts + ["Not a sentence of the index."])
    assert rows[-1] == -1
    assert [texts[r] for r in rows[:-1]] == texts  # a row holding each text (the first, for repeats)
    # An added document's sentences are found in the changed store, and so are the old ones;
    # the lookup carries over rather than being rebuilt.
    doc = Document("new.txt", "New", "A brand new sentence here. Another one follows it.", "sha-new")
    spans = split_document(doc)
    changed = store.changed(add=[(doc, spans, np.zeros((len(spans), store.dimension), np.float32))])
    assert "_text_keys_cache" in changed.corpus.__dict__
    saved = store_mod.save(changed, tmp_path / "again")
    assert saved.corpus.__dict__["_text_keys_cache"] is changed.corpus.__dict__["_text_keys_cache"]
    found = saved.corpus.rows_of(["A brand new sentence here.", texts[0]])
    assert [saved.corpus.sentence_text(int(r)) for r in found] == ["A brand new sentence here.", texts[0]]
    fresh = store_mod.load(tmp_path / "again")
    assert np.array_equal(fresh.corpus.rows_of(texts[:50]), saved.corpus.rows_of(texts[:50]))


def test_rows_of_tells_texts_apart_when_their_hashes_collide(built, monkeypatch):
    retriever, index_dir = built
    texts = retriever._features.store.corpus.texts()
    # Every text hashes alike: only the comparison of the texts themselves can find the row.
    monkeypatch.setattr(corpus_mod, "hash_texts", lambda items: np.zeros(len(list(items)), dtype=np.uint64))
    fresh = store_mod.load(index_dir)
    rows = fresh.corpus.rows_of([texts[5], texts[0], "Not a sentence of the index."])
    assert [fresh.corpus.sentence_text(int(r)) for r in rows[:2]] == [texts[5], texts[0]] and rows[2] == -1
