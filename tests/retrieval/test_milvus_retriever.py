"""The Retriever on Milvus (embedded milvus-lite): the same answers as on the local store,
from a client that holds no corpus: a question costs a few bounded round trips, never a scan.

The corpus: the seed article, a copy of it under another name (every sentence has a
duplicate in another article), the app tests' distractor and, where ../shared is present,
the first BBC articles of the news guard's list: several articles per question, so a
question's view holds whole articles, paragraphs and duplicates met in other articles.
"""

from __future__ import annotations

import collections
import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
from app_support import DISTRACTOR, SEED_DOC, SEEDS, embedder

from qa import Filter, Retriever
from qa.documents.loading import parse_text
from qa.evaluation import evaluate, read_questions

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from qa.store.milvus import MilvusStore  # noqa: E402
from qa.store.milvus_view import VIEW_ROWS  # noqa: E402

SEED_QUESTIONS = SEEDS.parent / "tests" / "data" / "seed_questions.jsonl"
DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
ARTICLES = Path(__file__).resolve().parents[1] / "data" / "news_articles.txt"
BBC_ARTICLES = 30  # of the news guard's list: ~600 sentences, a few seconds to embed
MAX_ROUND_TRIPS = 5  # per question (qa.store.milvus_view), whatever the corpus's size
OTHER_QUESTIONS = ["Who opened the regional trade summit in Bogota?", "What did delegates discuss?",
                   "When does the summit close?", "How many countries sent delegates?",
                   "Who protested outside the venue?", "Why did the president go to Jerusalem?"]


def _corpus(root: Path) -> Path:
    docs = root / "docs"
    docs.mkdir()
    (docs / SEED_DOC).symlink_to(SEEDS / SEED_DOC)
    (docs / "copy_of_seed.txt").write_text((SEEDS / SEED_DOC).read_text(encoding="utf-8"), encoding="utf-8")
    (docs / "distractor.txt").write_text(DISTRACTOR, encoding="utf-8")
    if (DATA / "bbc").is_dir():
        for name in ARTICLES.read_text().split()[:BBC_ARTICLES]:
            (docs / name).parent.mkdir(exist_ok=True)
            (docs / name).symlink_to(DATA / "bbc" / name)
    return docs


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("stores")
    docs = _corpus(tmp)
    local = Retriever.from_directory(docs, index_dir=tmp / "local", embedder=embedder())
    milvus = Retriever.from_directory(docs, index_dir=tmp / "unused", embedder=embedder(),
                                      store=f"milvus:{tmp / 'news.db'}")
    yield local, milvus, docs
    from milvus_lite import server_manager_instance

    server_manager_instance.release_server(str(tmp / "news.db"))


def _questions(local: Retriever) -> list[str]:
    asked = [q.question for q in read_questions(SEED_QUESTIONS)] + OTHER_QUESTIONS
    news = DATA / "news" / "questions.jsonl"
    if news.exists():
        held = {d.path for d in local.documents}
        asked += [q.question for q in read_questions(news) if q.doc in held]
    return asked


def _same_result(a, b, where: str) -> None:
    """The same result, up to the order of hits of equal score (a sort's arbitrary choice)."""
    assert (a.found, a.question, a.mode, len(a.hits)) == (b.found, b.question, b.mode, len(b.hits)), where
    assert abs(a.confidence - b.confidence) <= 1e-5, where
    np.testing.assert_allclose([h.score for h in a.hits], [h.score for h in b.hits], atol=1e-4, err_msg=where)

    def runs(result):
        out: list[list] = []
        for h in result.hits:
            if out and abs(out[-1][0].score - h.score) <= 1e-5:
                out[-1].append(h)
            else:
                out.append([h])
        return out

    # Which of two duplicates is the hit and which its source is as arbitrary: sources compare as a set.
    same = lambda h: (h.text, h.context, h.context_start, sorted(map(repr, h.sources)), h.answer)  # noqa: E731
    left, right = runs(a), runs(b)
    assert [len(r) for r in left[:-1]] == [len(r) for r in right[:-1]], where
    for x, y in zip(left[:-1], right[:-1]):  # the last run may go on past k: its scores only
        assert sorted(map(same, x)) == sorted(map(same, y)), where


def test_milvus_lists_the_same_corpus_without_holding_it(both):
    local, milvus, _ = both
    assert isinstance(milvus._features.store, MilvusStore)
    assert len(milvus) == len(local) and len(milvus.documents) == len(local.documents) >= 3
    assert milvus.documents == tuple(dataclasses.replace(d, text="") for d in local.documents)
    for doc in local.documents:
        assert milvus.document(doc.path) == doc  # the text, read when asked for
        assert milvus.sentence_count(doc.path) == local.sentence_count(doc.path)


def _tied(retriever: Retriever, question: str, mode: str, filter, k: int = 5) -> bool:
    """Whether the local store's candidates end inside a run of equal scores (dense or BM25):
    which of those a top list keeps is arbitrary (FAISS's order, argpartition's), so another
    engine may keep others, and every min-max-normalized signal moves a little."""
    from qa.ranking.fusion import Fusion
    from qa.ranking.query import Query

    features, s = retriever._features, retriever.fusion.settings
    depth = max(s.depth, s.depth_per_hit * k)
    query = Query.parse(question, filter)
    runs = []
    if mode != "dense":
        bm = Fusion._bm25(features, query, features.corpus.admitted(query.filter))
        runs.append(np.sort(bm[bm > 0])[::-1])
    if mode != "bm25":
        scores, _ = features.store.search(retriever.embedder.encode([question]), depth + 1, query.filter)
        runs.append(scores[0][np.isfinite(scores[0])])
    return any(len(r) > depth and r[depth - 1] == r[depth] for r in runs)


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_milvus_gives_the_same_answers(both, mode):
    local, milvus, _ = both
    ties = 0
    for question in _questions(local):
        for filter in (None, Filter(sources=("The Rio Times",)), Filter(since="2025-05-06")):
            a, b = local.search(question, k=5, mode=mode, filter=filter), milvus.search(question, k=5, mode=mode, filter=filter)
            if _tied(local, question, mode, filter):  # the same decision and the same best sentence
                ties += 1
                assert a.found == b.found and [h.text for h in a.hits[:1]] == [h.text for h in b.hits[:1]], question
                continue
            _same_result(a, b, f"{mode} {filter} {question}")
    assert ties < len(_questions(local))  # most are compared in full


def test_the_learned_ranking_gives_the_same_answers_on_milvus(both, monkeypatch):
    # The re-ranker reads every sentence of a candidate's article and the calibrator the
    # article's names: a view of paragraphs alone would lack them (an error, or another found).
    from qa.ranking.fusion import Fusion

    local, milvus, _ = both
    learned = Fusion.learned()
    monkeypatch.setattr(local, "fusion", learned)
    monkeypatch.setattr(milvus, "fusion", learned)
    compared = 0
    for question in _questions(local):
        a, b = local.search(question, k=5), milvus.search(question, k=5)
        if _tied(local, question, "hybrid", None):
            assert a.found == b.found and [h.text for h in a.hits[:1]] == [h.text for h in b.hits[:1]], question
            continue
        _same_result(a, b, f"learned {question}")
        compared += 1
    assert compared >= len(_questions(local)) // 2


def test_milvus_scores_the_seed_questions_as_the_local_store(both):
    local, milvus, _ = both
    questions = read_questions(SEED_QUESTIONS)
    want, got = evaluate(local, questions), evaluate(milvus, questions)
    assert abs(got.mrr - want.mrr) <= 0.005 and got.recall == want.recall


def test_duplicates_in_other_articles_are_sources(both):
    _, milvus, _ = both
    hit = milvus.search("When did formal diplomatic relations begin?", k=1).hits[0]
    assert {s.doc for s in hit.sources} == {SEED_DOC, "copy_of_seed.txt"}


class Spy:
    """Every MilvusClient call this process makes, with its arguments (the real calls run)."""

    def __init__(self, monkeypatch):
        from pymilvus import MilvusClient

        self.calls: list[tuple[str, dict]] = []
        for name in ("search", "query", "get", "query_iterator", "search_iterator", "hybrid_search"):
            original = getattr(MilvusClient, name)

            def spy(client, *args, _original=original, _name=name, **kwargs):
                self.calls.append((_name, {"args": args, **kwargs}))
                return _original(client, *args, **kwargs)
            monkeypatch.setattr(MilvusClient, name, spy)

    def take(self) -> list[tuple[str, dict]]:
        calls, self.calls = self.calls, []
        return calls


def test_opening_and_asking_read_no_collection_whole(both, monkeypatch):
    import qa.retrieval.remote as remote

    local, milvus, _ = both
    monkeypatch.setattr(remote, "FOLLOW_SECONDS", 3600.0)  # the manifest's re-read: its own test
    spy = Spy(monkeypatch)
    fresh = Retriever(embedder=embedder(), store=milvus.store_spec).load()
    assert len(fresh) == len(local)
    opened = spy.take()
    assert [(name, kw["args"][0].endswith("_meta"), kw.get("ids")) for name, kw in opened] == [("get", True, [1])]
    generation = fresh._features.store.generation
    per_question = collections.Counter()
    for question in _questions(local)[:15]:
        for mode in ("hybrid", "dense", "bm25"):
            fresh.search(question, k=5, mode=mode)
            calls = spy.take()
            per_question[len(calls)] += 1
            assert 1 <= len(calls) <= MAX_ROUND_TRIPS, (question, mode, [n for n, _ in calls])
            for name, kw in calls:
                assert name in ("search", "query"), name  # no iterator, no get of arbitrary ids
                assert f"born <= {generation}" in kw["filter"], kw["filter"]
                assert 0 < kw["limit"] <= VIEW_ROWS
                if name == "query":  # by key: terms, articles, ids, same-text keys; never "everything visible"
                    assert re.search(r"\b(term|article|id|same) in \[", kw["filter"]), kw["filter"]
    assert sum(per_question.values()) == 45


def test_a_second_open_embeds_nothing_and_reads_only_what_it_compares(both, tmp_path, monkeypatch):
    _, milvus, docs = both
    spy = Spy(monkeypatch)
    again = Retriever.from_directory(docs, index_dir=tmp_path / "unused", embedder=embedder(), store=milvus.store_spec)
    assert again.last_update.embedded_sentences == 0 and not again.last_update.changed
    assert again.documents == milvus.documents
    for name, kw in spy.take():  # the sync lists the articles' metadata, never their text or sentences
        if name == "query_iterator":
            assert "text" not in kw["output_fields"] and kw["args"][0].endswith("_articles")


def test_a_changed_article_is_answered_from_its_new_text(both, tmp_path):
    local, milvus, docs = both
    spec = f"milvus:{tmp_path / 'changed.db'}"
    first = Retriever.from_directory(docs, index_dir=tmp_path / "unused", embedder=embedder(), store=spec)
    first.add([parse_text(DISTRACTOR.replace("twelve countries", "nineteen countries"), "distractor.txt")])
    result = first.search("How many countries sent delegates to the summit in Bogota?", k=1)
    assert "nineteen" in result.hits[0].text
    reopened = Retriever(embedder=embedder(), store=spec).load()
    assert reopened.search("How many countries sent delegates to the summit in Bogota?", k=1).hits[0].text == \
        result.hits[0].text
    store = reopened._features.store
    assert store.counts["articles"] == len(local.documents) and len(store) == len(first)
    np.testing.assert_array_equal(np.sort(store.corpus.ids), np.sort(first._features.store.corpus.ids))
    from milvus_lite import server_manager_instance

    server_manager_instance.release_server(str(tmp_path / "changed.db"))


def test_a_corpus_smaller_than_the_candidate_depth(tmp_path):
    """27 sentences, 100 candidates a retriever: every sentence is one, in every mode."""
    local = Retriever.from_directory(SEEDS, index_dir=tmp_path / "local", embedder=embedder())
    milvus = Retriever.from_directory(SEEDS, index_dir=tmp_path / "unused", embedder=embedder(),
                                      store=f"milvus:{tmp_path / 'seeds.db'}")
    assert len(milvus) == len(local) < local.fusion.settings.depth
    for question in [q.question for q in read_questions(SEED_QUESTIONS)][:8] + ["zebra crossing"]:
        for mode in ("hybrid", "dense", "bm25"):
            _same_result(local.search(question, k=10, mode=mode), milvus.search(question, k=10, mode=mode), question)
    from milvus_lite import server_manager_instance

    server_manager_instance.release_server(str(tmp_path / "seeds.db"))


def test_a_reader_follows_what_another_writer_commits(tmp_path, monkeypatch):
    """The app keeps a store open while `qa index` commits elsewhere: after three commits the
    reader would have lost the rows the first one retired; it follows the manifest instead."""
    import qa.retrieval.remote as remote

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / SEED_DOC).symlink_to(SEEDS / SEED_DOC)
    spec = f"milvus:{tmp_path / 'shared.db'}"
    writer = Retriever.from_directory(docs, index_dir=tmp_path / "unused", embedder=embedder(), store=spec)
    reader = Retriever(embedder=embedder(), store=spec).load()
    question = "How many countries sent delegates to the summit in Bogota?"
    assert "countries" not in reader.search(question, k=1).hits[0].text
    monkeypatch.setattr(remote, "FOLLOW_SECONDS", 3600.0)  # not yet: the reader stays where it was
    for n in ("twelve", "fifteen", "nineteen"):
        writer.add([parse_text(DISTRACTOR.replace("twelve countries", f"{n} countries"), "distractor.txt")])
    stale = reader._features.store.generation
    assert stale < writer._features.store.generation - 1
    monkeypatch.setattr(remote, "FOLLOW_SECONDS", 0.0)
    spy = Spy(monkeypatch)
    result = reader.search(question, k=1)
    assert "nineteen countries" in result.hits[0].text
    reads = [(name, kw["args"][0].endswith("_meta")) for name, kw in spy.take() if name == "get"]
    assert reads == [("get", True)]  # following costs one manifest read
    assert len(reader) == len(writer) and [d.path for d in reader.documents] == [d.path for d in writer.documents]
    for q in [q.question for q in read_questions(SEED_QUESTIONS)][:5]:  # the unchanged article is all there
        assert [h.text for h in reader.search(q, k=3).hits] == [h.text for h in writer.search(q, k=3).hits], q
    from milvus_lite import server_manager_instance

    server_manager_instance.release_server(str(tmp_path / "shared.db"))
