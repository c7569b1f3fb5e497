"""Milvus's own cases (the shared contract is tests/store/test_contract.py): specs, model
checks, BM25, interrupted builds, and a server killed in the middle of a build."""

from __future__ import annotations

import collections
import threading
import time

import numpy as np
import pytest

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from conftest import prefixed  # noqa: E402
from milvus_server import MilvusLiteServer, free_port  # noqa: E402  (tests/store is on sys.path)
from store_support import DIM, MODEL, article, queries  # noqa: E402

from qa.documents.filters import Filter  # noqa: E402
from qa.documents.sentences import Span  # noqa: E402
from qa.errors import IndexStoreError, ModelMismatchError  # noqa: E402
from qa.store.local import LocalStore  # noqa: E402
from qa.store.milvus import MilvusStore, StoreUnavailableError, open_milvus, visible  # noqa: E402

@pytest.mark.parametrize("spec, says", [
    ("milvus:store", "ending in .db"),
    ("milvus://", "milvus://HOST:PORT"),
    ("milvus:x.db?shards=two", "whole numbers"),
    ("milvus:x.db?colour=red", "unknown option"),
    ("milvus:x.db?index=LSH", "is not one of"),
    ("faiss:x", "not a Milvus store"),
])
def test_a_bad_spec_says_what_to_write(spec, says):
    with pytest.raises(IndexStoreError, match=says) as info:
        MilvusStore(spec, MODEL, DIM)
    assert "\n" not in str(info.value)


def test_constructing_a_store_does_not_connect():
    store = MilvusStore(f"milvus://127.0.0.1:{free_port()}", MODEL, DIM)  # nothing listens there
    assert store.spec.startswith("milvus://")


def test_another_model_or_dimension_is_refused(embedded_db):
    spec = prefixed(embedded_db)
    open_milvus(spec, MODEL, DIM).changed(add=[article(0)])
    with pytest.raises(ModelMismatchError, match="pass --model test-model"):
        open_milvus(spec, "other-model", DIM)
    with pytest.raises(ModelMismatchError, match="dimension 16"):
        open_milvus(spec, MODEL, DIM * 2)


def test_bm25_over_qa_tokens_with_positive_scores_and_filters(embedded_db):
    store = open_milvus(prefixed(embedded_db), MODEL, DIM).changed(add=[article(i) for i in range(10)])
    scores, ids = store.bm25(["What about the glaciers?", "the of and"], 3)  # stemmed: glaciers -> glacier
    assert ids.shape == (2, 3) and (scores[0] > 0).all() and (ids[1] == -1).all()
    for key in ids[0]:
        assert "glacier" in store.corpus.sentence_text(int(store.corpus.rows([key])[0]))
    bbc = Filter(sources=("bbc",))
    _, ids = store.bm25(["glacier"], 5, bbc)
    admitted = set(store.corpus.ids[store.corpus.admitted(bbc)].tolist())
    assert set(ids[ids >= 0].tolist()) <= admitted


def test_same_text_with_new_spans_takes_two_generations(embedded_db):
    spec = prefixed(embedded_db)
    store = open_milvus(spec, MODEL, DIM).changed(add=[article(i) for i in range(4)])
    doc, spans, vectors = article(1)
    merged = [Span(spans[0].start, spans[1].end, spans[0].paragraph)] + spans[2:]  # same text, other split
    again = store.changed(add=[(doc, merged, vectors[1:])])
    assert again.generation == store.generation + 2
    assert len(again) == len(store) - 1
    reopened = open_milvus(spec, MODEL, DIM)
    np.testing.assert_array_equal(reopened.corpus.spans, again.corpus.spans)
    np.testing.assert_array_equal(reopened.vectors(again.corpus.ids), again.vectors(again.corpus.ids))


def test_no_server_is_one_line_naming_the_uri(capfd):
    spec = f"milvus://127.0.0.1:{free_port()}"
    with pytest.raises(StoreUnavailableError) as info:
        open_milvus(spec, MODEL, DIM)
    message = str(info.value)
    assert "\n" not in message and spec in message and "is the Milvus server running" in message
    assert "Traceback" not in capfd.readouterr().err


# -- faults: the server killed mid-build ------------------------------------------------

def count(client, collection: str, expr: str) -> int:
    return int(client.query(collection, filter=expr, output_fields=["count(*)"])[0]["count(*)"])


def test_an_interrupted_build_is_invisible_and_cleared_by_the_next(embedded_db):
    """What a build killed between writing and committing leaves: new rows (born = G + 1) and
    retired old ones (dead = G + 1), the manifest still at G. Made here with the store's own
    writes up to the commit, then a different change is applied on top."""
    from qa.ranking.lexical import tokenize
    from qa.store.milvus_rows import article_keys, article_rows, sentence_rows

    spec = prefixed(embedded_db)
    store = open_milvus(spec, MODEL, DIM).changed(add=[article(i) for i in range(5)])
    link, g = store._link, store.generation
    names = link.spec
    doc, spans, vectors = article(7)
    link.write(names.articles, article_rows(doc, seq=(g + 1) << 32, born=g + 1), "write")
    link.write(names.sentences, sentence_rows(doc, spans, vectors, g + 1, tokenize), "write")
    rows = store.corpus.doc_rows()
    link.set_dead(names.sentences, store.corpus.ids[rows[1]:rows[2]], g + 1)  # article 1 "replaced"
    link.set_dead(names.articles, article_keys(store.corpus.documents[1]), g + 1)

    during = open_milvus(spec, MODEL, DIM)
    assert during.generation == g and during.corpus.documents == store.corpus.documents
    hits = during.search(vectors, 3)[1]
    assert set(hits[hits >= 0].tolist()) <= set(store.corpus.ids.tolist())

    after = during.changed(add=[article(9)])  # another change: article 7 must not appear, article 1 must stay
    assert [d.path for d in after.corpus.documents] == [f"news/{i:03d}.txt" for i in (0, 1, 2, 3, 4, 9)]
    reopened = open_milvus(spec, MODEL, DIM)
    np.testing.assert_array_equal(reopened.corpus.ids, after.corpus.ids)
    client = link.client()
    assert count(client, names.sentences, visible(after.generation)) == len(after)
    assert count(client, names.sentences, f"born > {after.generation} or (dead > {g} and dead < {1 << 62})") == 0


@pytest.mark.slow
def test_a_server_killed_mid_build_leaves_every_article_exactly_once(tmp_path, capfd):
    from pymilvus import MilvusClient

    server = MilvusLiteServer(tmp_path / "data").start()
    try:
        spec = server.spec
        store = open_milvus(spec, MODEL, DIM).changed(add=[article(i) for i in range(6)])
        names = store._link.spec
        g = store.generation
        add = [article(i) for i in range(6, 306)] + [article(2, version=1)]
        remove = {"news/004.txt"}
        failures = []

        def rebuild():
            try:
                store.changed(add=add, remove=remove)
            except IndexStoreError as err:
                failures.append(err)

        writer = threading.Thread(target=rebuild)
        watcher = MilvusClient(uri=f"http://127.0.0.1:{server.port}")
        writer.start()
        deadline = time.monotonic() + 60
        while count(watcher, names.sentences, f"born > {g}") == 0:  # kill once the new rows are arriving
            assert writer.is_alive() and time.monotonic() < deadline, "the build ended before it could be killed"
            time.sleep(0.02)
        server.kill()
        writer.join(60)
        assert failures and isinstance(failures[0], StoreUnavailableError), "the build should fail with the server"

        with pytest.raises(StoreUnavailableError) as info:  # the outage: one line naming the store
            store.search(queries(1), 3)
        message = str(info.value)
        assert "\n" not in message and spec in message and "is the Milvus server running" in message

        server.start()  # same data, same port
        during = open_milvus(spec, MODEL, DIM)
        assert during.generation == g and during.corpus.documents == store.corpus.documents
        np.testing.assert_array_equal(during.corpus.ids, store.corpus.ids)  # nothing half-written visible
        hits = during.search(np.concatenate([queries(), add[0][2]]), 10)[1]
        assert set(hits[hits >= 0].tolist()) <= set(store.corpus.ids.tolist())
        watcher = MilvusClient(uri=f"http://127.0.0.1:{server.port}")
        assert count(watcher, names.sentences, visible(g)) == len(store)

        final = during.changed(add=add, remove=remove)  # the same build again
        expected = LocalStore(MODEL, DIM).changed(add=[article(i) for i in range(6)]).changed(add=add, remove=remove)
        paths = collections.Counter(r["path"] for r in watcher.query(
            names.articles, filter=f"{visible(final.generation)} and chunk == 0", output_fields=["path"]))
        assert set(paths) == {d.path for d in expected.corpus.documents} and set(paths.values()) == {1}
        rows = watcher.query(names.sentences, filter=visible(final.generation), output_fields=["id"])
        keys = [r["id"] for r in rows]
        assert len(keys) == len(set(keys)) == len(expected) and set(keys) == set(expected.corpus.ids.tolist())
        reopened = open_milvus(spec, MODEL, DIM)
        assert reopened.corpus.documents == final.corpus.documents
        np.testing.assert_array_equal(reopened.search(queries(), 8)[1], expected.search(queries(), 8)[1])
        final.close()
        reopened.close()
    finally:
        server.stop()
    assert "Traceback" not in capfd.readouterr().err
