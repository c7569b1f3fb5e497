"""Milvus's own cases (the shared contract is tests/store/test_contract.py): specs, model
checks, BM25, interrupted builds, and a server killed in the middle of a build."""

from __future__ import annotations

import collections
import dataclasses
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
from qa.documents.loading import parse_text  # noqa: E402
from qa.documents.sentences import split_document  # noqa: E402
from qa.documents.sentences import Span  # noqa: E402
from qa.documents.tokens import tokenize as qa_tokenize  # noqa: E402
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


def test_a_store_of_an_older_layout_says_to_rebuild(embedded_db):
    spec = prefixed(embedded_db)
    store = open_milvus(spec, MODEL, DIM).changed(add=[article(0)])
    link = store._link
    link.client().drop_collection(link.spec.terms)  # layout 1 had no word counts
    link.write_meta(model=MODEL, dimension=DIM, generation=store.generation, persisted=0, format=1, **store.counts)
    for name in (link.spec.sentences, link.spec.articles, link.spec.meta):  # as a fresh process finds them
        link.client().release_collection(name)
    link.close()
    with pytest.raises(IndexStoreError, match="has layout 1, this qa reads 2; rebuild it"):
        open_milvus(spec, MODEL, DIM)


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


def test_odd_paths_and_an_unbroken_run_of_letters_are_stored_and_removed(embedded_db):
    spec = prefixed(embedded_db)
    blob = "0" + "a1" * 35_000  # a data: URI in the text: the splitter cuts it, the article's tokens do not
    odd = [parse_text(f"Odd {i}\n\nA sentence about the harbour.", path)
           for i, path in enumerate(['news/carriage\rreturn.txt', 'news/"quoted" \\ back\tslash\n.txt'])]
    odd.append(parse_text(f"Blob\n\nThe copper price rose. data:{blob} end. Another sentence.", "news/blob.txt"))
    rng = np.random.default_rng(3)
    added = []
    for d in odd:
        spans = split_document(d)
        v = rng.normal(size=(len(spans), DIM)).astype(np.float32)
        added.append((d, spans, v / np.linalg.norm(v, axis=1, keepdims=True)))
    store = open_milvus(spec, MODEL, DIM).changed(add=added)
    assert [d.path for d in store.documents] == [d.path for d in odd]
    assert store.document(odd[0].path).text == odd[0].text
    assert store.changed(remove={d.path for d in odd}).documents == ()


def test_an_article_longer_than_a_reply_is_refused_when_written(embedded_db, monkeypatch):
    import qa.store.milvus_commit as commit

    monkeypatch.setattr(commit, "VIEW_ROWS", 2)
    store = open_milvus(prefixed(embedded_db), MODEL, DIM)
    with pytest.raises(IndexStoreError, match="split it into smaller documents"):
        store.changed(add=[article(3)])  # 5 sentences
    assert len(open_milvus(prefixed(embedded_db), MODEL, DIM)) == len(store)


def test_a_password_in_the_uri_is_never_in_a_message():
    spec = f"milvus://root:s3cret@127.0.0.1:{free_port()}"
    with pytest.raises(StoreUnavailableError) as info:
        open_milvus(spec, MODEL, DIM)
    assert "s3cret" not in str(info.value) and "127.0.0.1" in str(info.value)


def test_opening_again_leaves_loaded_collections_as_they_are(embedded_db, monkeypatch):
    # Loading a loaded collection with another replica count is refused or re-balances it.
    from pymilvus import MilvusClient

    spec = prefixed(embedded_db)
    open_milvus(spec, MODEL, DIM).changed(add=[article(0)])
    loads = []
    original = MilvusClient.load_collection
    monkeypatch.setattr(MilvusClient, "load_collection", lambda self, name, *a, **k: loads.append(name) or original(self, name, *a, **k))
    assert len(open_milvus(spec + "&replicas=2" if "?" in spec else spec + "?replicas=2", MODEL, DIM)) > 0
    assert loads == []


def test_latest_follows_a_writer_and_says_when_the_store_is_gone(embedded_db):
    spec = prefixed(embedded_db)
    reader = open_milvus(spec, MODEL, DIM).changed(add=[article(0)])
    assert reader.latest() is reader  # nothing committed since
    writer = open_milvus(spec, MODEL, DIM).changed(add=[article(1)]).changed(add=[article(2)])
    moved = reader.latest()
    assert moved.generation == writer.generation and len(moved) == len(writer)
    assert [d.path for d in moved.documents] == [d.path for d in writer.documents]
    from qa.store.milvus import drop_milvus

    drop_milvus(spec)
    with pytest.raises(IndexStoreError, match="has no manifest any more.*index it again"):
        moved.latest()


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
    from qa.store.milvus_rows import article_keys, article_rows, sentence_rows, term_rows

    spec = prefixed(embedded_db)
    store = open_milvus(spec, MODEL, DIM).changed(add=[article(i) for i in range(5)])
    link, g = store._link, store.generation
    names = link.spec
    doc, spans, vectors = article(7)
    link.write(names.articles, article_rows(doc, spans, seq=(g + 1) << 32, born=g + 1), "write")
    link.write(names.sentences, sentence_rows(doc, spans, vectors, g + 1, seq=(g + 1) << 32), "write")
    link.write(names.terms, term_rows({"glacier": (999, 999), "unseen": (1, 1)}, g + 1), "write")
    corpus = store.corpus
    rows = corpus.doc_rows()
    link.set_dead(names.sentences, corpus.ids[rows[1]:rows[2]], g + 1)  # article 1 "replaced"
    link.set_dead(names.articles, article_keys(corpus.documents[1]), g + 1)
    glacier = link.query(names.terms, f"{visible(g)} and term == \"glacier\"", ["id"], 1, "read")[0]["id"]
    link.set_dead(names.terms, [glacier], g + 1)

    during = open_milvus(spec, MODEL, DIM)
    assert during.generation == g and during.corpus.documents == corpus.documents
    hits = during.search(vectors, 3)[1]
    assert set(hits[hits >= 0].tolist()) <= set(corpus.ids.tolist())
    assert_statistics(during)

    after = during.changed(add=[article(9)])  # another change: article 7 must not appear, article 1 must stay
    assert [d.path for d in after.corpus.documents] == [f"news/{i:03d}.txt" for i in (0, 1, 2, 3, 4, 9)]
    reopened = open_milvus(spec, MODEL, DIM)
    np.testing.assert_array_equal(reopened.corpus.ids, after.corpus.ids)
    assert_statistics(reopened)
    client = link.client()
    assert count(client, names.sentences, visible(after.generation)) == len(after)
    assert count(client, names.sentences, f"born > {after.generation} or (dead > {g} and dead < {1 << 62})") == 0
    assert count(client, names.terms, f"born > {after.generation}") == 0  # its retirements: assert_statistics


def assert_statistics(store) -> None:
    """The store's word counts and token totals are those of its corpus, counted afresh."""
    from qa.store.milvus_rows import article_tokens

    corpus, rows = store.corpus, store.corpus.doc_rows()
    sentence_df, article_df, sentence_tokens, article_total = collections.Counter(), collections.Counter(), 0, 0
    for r, doc in enumerate(corpus.documents):
        spans = [Span(int(s), int(e), int(p), bool(h)) for _, s, e, p, h in corpus.spans[rows[r]:rows[r + 1]].tolist()]
        tokens, _, words = article_tokens(doc, spans)
        for t in tokens:
            sentence_df.update(set(t))
            sentence_tokens += len(t)
        article_df.update(set(qa_tokenize(doc.text)))
        article_total += words
    link = store._link
    stored = {r["term"]: (r["sentences"], r["articles"]) for page in link.pages(
        link.spec.terms, visible(store.generation), ["term", "sentences", "articles"], "read") for r in page}
    assert stored == {t: (sentence_df[t], article_df[t]) for t in set(sentence_df) | set(article_df)}
    assert store.counts == {"sentences": len(corpus), "articles": len(corpus.documents),
                            "sentence_tokens": sentence_tokens, "article_tokens": article_total}


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


def _long_article(i: int):
    """Article ``i`` in four paragraphs of three sentences: most of it is neither a hit's
    paragraph nor holds a given word, so a view reads only some of its sentences."""
    words = ("harbour", "election", "copper", "vaccine", "glacier", "tariff", "orchestra")
    paragraphs = ["\n".join([f"Paragraph {p} of long article {i} tells of the {words[(i + p + s) % 7]} in part {s}."
                              for s in range(3)]).replace("\n", " ") for p in range(4)]
    doc = parse_text(f"Long {i}\n\n" + "\n\n".join(paragraphs), f"long/{i}.txt")
    spans = split_document(doc)
    vectors = queries(len(spans), seed=100 + i)
    return doc, spans, vectors


def test_a_neighbourhood_is_ranked_as_the_whole_corpus_would_be(embedded_db):
    """One question's rows: the hits' articles (their sentences holding the question's words,
    the hits' paragraphs, the rest as placeholders), scored with the corpus's statistics
    exactly as the local store's BM25 scores them, duplicates in other articles included, in
    five round trips."""
    from qa.ranking.lexical import Lexical

    doc, spans, vectors = article(3)
    copy = (dataclasses.replace(doc, path="copies/003.txt"), spans, queries(len(spans), seed=99))  # same texts, other vectors
    add = [article(i) for i in range(30)] + [copy] + [_long_article(i) for i in range(6)]
    store = open_milvus(prefixed(embedded_db), MODEL, DIM).changed(add=add)
    ref = LocalStore(MODEL, DIM).changed(add=add)
    sentences = Lexical(ref.corpus.texts())
    articles = Lexical([d.text for d in ref.corpus.documents])
    placeholders = 0
    for near, q in enumerate((vectors[1] + 0.1 * queries(1)[0], add[-2][2][4] + 0.1 * queries(1)[0])):  # article 3, long 4
        for question in ("Is sentence two about the copper glacier?", "vaccine tariff", "nothing like it"):
            tokens = tuple(qa_tokenize(question))
            hood = store.neighbourhood(q / np.linalg.norm(q), tokens, 4, None)
            view = hood.corpus
            real = view.ids >= 0
            placeholders += int((~real).sum())
            rows = np.full(len(view), -1)
            rows[real] = ref.corpus.rows(view.ids[real])
            assert hood.round_trips <= 5 and len(view.documents) < len(ref.corpus.documents)
            np.testing.assert_array_equal(hood.store.search(hood.store.query[None], 4)[1],
                                          ref.search(hood.store.query[None], 4)[1])
            whole = hood.complete[view.spans[:, 0]]
            assert whole.any()
            if not hood.sentence_index.ids(tokens) and near == 0:  # no BM25 hit: the copy is met through its repeats only
                assert [d.path for d, c in zip(view.documents, hood.complete) if not c] == ["copies/003.txt"]
            want = sentences.scores(sentences.ids(tokens))
            got = hood.sentence_index.scores(hood.sentence_index.ids(tokens))
            np.testing.assert_array_equal(got[whole & real], want[rows[whole & real]])
            assert not got[~real].any()
            bounds = ref.corpus.doc_rows()
            for d in np.flatnonzero(hood.complete):  # an article's unread sentences hold none of the words
                r = ref.corpus.paths[view.documents[d].path]
                assert np.isin(np.flatnonzero(want[bounds[r]:bounds[r + 1]] > 0) + bounds[r], rows).all()
            doc_rows = np.asarray([ref.corpus.paths[d.path] for d in view.documents])
            got = hood.article_index.scores(hood.article_index.ids(tokens))
            np.testing.assert_array_equal(got[hood.complete], articles.scores(articles.ids(tokens))[doc_rows[hood.complete]])
            for r in np.flatnonzero(hood.known):  # fetched texts read as the article's own
                assert view.sentence_text(r) == ref.corpus.sentence_text(rows[r])
            groups, hits = hood.groups(), view.rows(hood.store.dense[1][0])
            for r in hits:  # a candidate's group is whole: its repeats anywhere were fetched
                if view.documents[view.spans[r, 0]].path == "news/003.txt":
                    assert [view.documents[view.spans[g, 0]].path for g in groups[r]] == ["news/003.txt", "copies/003.txt"]
    assert placeholders  # some sentences were not read
