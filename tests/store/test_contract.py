"""The store contract: one suite of tests that every ``SentenceStore`` runs — the local FAISS
store always, Milvus embedded and as a local server where pymilvus is installed.

Documents are small synthetic articles and vectors seeded random unit vectors: no model is loaded.
"""

from __future__ import annotations

import numpy as np
import pytest
from store_support import DIM, MODEL, LocalStore, article, build, queries, reference

from qa.documents.filters import Filter
from qa.errors import IndexStoreError
from qa.store.base import SentenceStore


def test_search_is_exact_inner_product_like_the_local_store(backend):
    store, ref = build(backend), reference()
    assert isinstance(store, SentenceStore) and len(store) == len(ref)
    q = queries()
    scores, ids = store.search(q, 7)
    ref_scores, ref_ids = ref.search(q, 7)
    assert ids.shape == (4, 7) and ids.dtype == np.int64 and scores.dtype == np.float32
    np.testing.assert_array_equal(ids, ref_ids)
    np.testing.assert_allclose(scores, ref_scores, atol=1e-5)
    exact = q @ ref.matrix.T  # and both are the true top 7
    np.testing.assert_allclose(scores, -np.sort(-exact, axis=1)[:, :7], atol=1e-5)


@pytest.mark.parametrize("filter", [
    Filter(sources=("THE RIO TIMES",)),  # case-insensitive: matches "The Rio Times" and "the rio times"
    Filter(since="2025-06-01"),
    Filter(until="2025-03-31"),  # an upper bound alone still keeps undated articles out
    Filter(since="2025-02-01", until="2025-09-30", sources=("bbc", "Reuters")),
    Filter(sources=("Nobody",)),
], ids=["source", "since", "until", "both", "none"])
def test_filters_apply_inside_the_search(backend, filter):
    store, ref = build(backend), reference()
    admitted = set(ref.corpus.ids[ref.corpus.admitted(filter)].tolist())
    q = queries()
    for k in (min(3, len(admitted)), len(admitted) + 4):  # k admissible exist: k hits; fewer: padding
        scores, ids = store.search(q, k, filter)
        ref_scores, ref_ids = ref.search(q, k, filter)
        np.testing.assert_array_equal(ids, ref_ids)
        found = ids[ids >= 0]
        assert set(found.tolist()) <= admitted
        assert (ids >= 0).sum(axis=1).tolist() == [min(k, len(admitted))] * len(q)
        assert np.isneginf(scores[ids < 0]).all()


def test_similarity_and_vectors_by_id(backend):
    store, ref = build(backend), reference()
    rng = np.random.default_rng(3)
    ids = rng.choice(ref.corpus.ids, size=9, replace=True)  # duplicates and any order
    np.testing.assert_array_equal(store.vectors(ids), ref.vectors(ids))
    np.testing.assert_allclose(store.similarity(queries(1)[0], ids), ref.similarity(queries(1)[0], ids), atol=1e-6)
    with pytest.raises(IndexStoreError):
        store.vectors(np.array([12345], np.int64))


def ids_by_path(store) -> dict[str, list[int]]:
    rows, out = store.corpus.doc_rows(), {}
    for r, doc in enumerate(store.corpus.documents):
        out[doc.path] = store.corpus.ids[rows[r]:rows[r + 1]].tolist()
    return out


def test_changed_adds_replaces_and_removes_with_stable_ids(backend):
    first = build(backend, 8)
    replaced = article(2, version=1)
    second = first.changed(add=[article(8), replaced], remove={"news/005.txt"})
    before, after = ids_by_path(first), ids_by_path(second)
    assert set(after) == set(before) - {"news/005.txt"} | {"news/008.txt"}
    for path in set(before) - {"news/002.txt", "news/005.txt"}:
        assert after[path] == before[path]  # untouched articles keep their ids
    assert not set(after["news/002.txt"]) & set(before["news/002.txt"])
    assert second.generation >= first.generation
    ref = LocalStore(MODEL, DIM).changed(add=[article(i) for i in range(8)]).changed(
        add=[article(8), replaced], remove={"news/005.txt"})
    q = np.concatenate([queries(), article(5)[2][:1], article(2)[2][:1]])  # also the removed/replaced vectors
    np.testing.assert_array_equal(second.search(q, 5)[1], ref.search(q, 5)[1])
    # the first generation still answers from its own corpus, whatever the store holds now
    old_ids = first.search(q, 5)[1]
    assert set(old_ids[old_ids >= 0].tolist()) <= set(first.corpus.ids.tolist())
    gone = second.changed(remove={d.path for d in second.corpus.documents})
    assert len(gone) == 0 and gone.search(q, 3)[1].shape == (len(q), 0)


def test_an_unchanged_article_added_again_changes_nothing(backend):
    first = build(backend, 6)
    again = first.changed(add=[article(3)])
    assert sorted(again.corpus.ids.tolist()) == sorted(first.corpus.ids.tolist())
    np.testing.assert_array_equal(again.search(queries(), 4)[1], first.search(queries(), 4)[1])


def test_a_path_both_added_and_removed_is_added(backend):
    first = build(backend, 6)
    for add in (article(3), article(3, version=1)):  # unchanged, then changed
        again = first.changed(add=[add], remove={"news/003.txt"})
        assert [d.path for d in again.corpus.documents if d.path == "news/003.txt"] == ["news/003.txt"]
        assert len(again) == len(first) and len(backend.reopen(again)) == len(again)
        assert again.search(add[2][:1], 1)[1][0][0] == ids_by_path(again)["news/003.txt"][0]  # its vectors searched


def test_reopening_gives_the_same_corpus(backend):
    store = build(backend, 9).changed(add=[article(4, version=2)], remove={"news/001.txt"})
    again = backend.reopen(store)
    assert again.corpus.documents == store.corpus.documents
    np.testing.assert_array_equal(again.corpus.spans, store.corpus.spans)
    np.testing.assert_array_equal(again.corpus.ids, store.corpus.ids)
    np.testing.assert_array_equal(again.search(queries(), 6)[1], store.search(queries(), 6)[1])
    np.testing.assert_array_equal(again.vectors(store.corpus.ids), store.vectors(store.corpus.ids))


def test_an_empty_store_finds_nothing(backend):
    store = backend.empty()
    assert len(store) == 0
    scores, ids = store.search(queries(2), 5)
    assert scores.shape == ids.shape == (2, 0)




def test_the_documents_are_listed_and_read_one_at_a_time(backend):
    store, ref = build(backend), reference()
    listed = [(d.path, d.title, d.sha256, d.date, d.source, d.body_start, d.kind) for d in store.documents]
    assert listed == [(d.path, d.title, d.sha256, d.date, d.source, d.body_start, d.kind) for d in ref.corpus.documents]
    rows = ref.corpus.doc_rows()
    for r, doc in enumerate(ref.corpus.documents):
        assert store.document(doc.path) == doc  # with its text
        assert store.sentence_count(doc.path) == rows[r + 1] - rows[r]
    assert store.document("news/999.txt") is None and store.sentence_count("news/999.txt") == 0


def test_known_vectors_are_found_by_exact_text(backend):
    store, ref = build(backend), reference()
    first, sixth = ref.corpus.sentence_text(0), ref.corpus.sentence_text(5)
    known, vectors = store.known_vectors([first, "No sentence reads so.", sixth, first.upper(), first])
    assert known.tolist() == [True, False, True, False, True]  # same words in capitals: another text
    np.testing.assert_array_equal(vectors, ref.vectors(ref.corpus.ids[[0, 5, 0]]))
    assert store.known_vectors([])[0].shape == (0,)
