"""The Retriever on Milvus (embedded milvus-lite): the same answers as on the local store."""

from __future__ import annotations

import pytest
from app_support import SEEDS, embedder

from qa import Retriever
from qa.evaluation import evaluate, read_questions

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from qa.store.milvus import MilvusStore  # noqa: E402

SEED_QUESTIONS = SEEDS.parent / "tests" / "data" / "seed_questions.jsonl"


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("stores")
    local = Retriever.from_directory(SEEDS, index_dir=tmp / "local", embedder=embedder())
    milvus = Retriever.from_directory(SEEDS, index_dir=tmp / "unused", embedder=embedder(),
                                      store=f"milvus:{tmp / 'seeds.db'}")
    yield local, milvus
    from milvus_lite import server_manager_instance

    server_manager_instance.release_server(str(tmp / "seeds.db"))


def test_milvus_holds_the_same_corpus_and_gives_the_same_answers(both):
    local, milvus = both
    assert isinstance(milvus._features.store, MilvusStore)
    assert milvus.documents == local.documents and len(milvus) == len(local)
    questions = read_questions(SEED_QUESTIONS)
    want, got = evaluate(local, questions), evaluate(milvus, questions)
    assert abs(got.mrr - want.mrr) <= 0.005 and got.recall == want.recall
    for q in questions:
        a, b = local.search(q.question, k=3), milvus.search(q.question, k=3)
        assert a.found == b.found, q.question
        assert [h.text for h in a.hits] == [h.text for h in b.hits], q.question


def test_a_second_open_embeds_nothing_and_reads_everything_back_from_milvus(both, tmp_path):
    _, milvus = both
    spec = milvus.store_spec
    again = Retriever.from_directory(SEEDS, index_dir=tmp_path / "unused", embedder=embedder(), store=spec)
    assert again.last_update.embedded_sentences == 0 and not again.last_update.changed
    assert again.documents == milvus.documents
