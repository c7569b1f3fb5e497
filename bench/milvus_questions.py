"""Whole questions on the local store and on Milvus: open cost, memory, latency, round trips.

    python bench/milvus_questions.py DOCS QUESTIONS [--stores local,embedded,server] [--limit 200]
                                     [--work bench/out/milvus-questions] [--tag NAME]

Embeds every sentence of DOCS once with qa's model and keeps the vectors in WORK (a cached
embedder serves them, so rebuilding a store costs no model time), builds each store from DOCS
(``Retriever.from_directory``): ``local`` (FAISS), ``embedded`` (``milvus:PATH.db``: milvus-lite
runs inside the qa process, so its memory is the engine's too) and ``server`` (milvus-lite's
server in a process of its own, ``milvus://``: the qa process holds the client alone). Then
measures each in a fresh process of its own: resident memory after imports and the model,
after opening the store (``Retriever.load``) and after the questions (the server's apart);
warm whole-question latency (``Retriever.search``, hybrid, k=5: p50/p95 after 10 warm-up
questions); and the Milvus client calls per question (every ``MilvusClient`` method call is
counted, so a round trip the store makes cannot go unseen), with the full-collection reads
(``query_iterator``) counted on their own, for the open and for the questions.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT))  # an installed qa (or one on PYTHONPATH) wins over the checkout
sys.path.append(str(ROOT / "tests" / "store"))  # milvus_server: the test suite's server helper
WARMUP = 10
K = 5


STORES = ("local", "embedded", "server")


def rss_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class CachedEmbedder:
    """qa's Embedder, answering from a table of known vectors first (same model, same vectors)."""

    def __init__(self, work: Path):
        from qa.embedding import Embedder

        self.inner = Embedder()
        self.model_id = self.inner.model_id
        self.texts = json.loads((work / "texts.json").read_text()) if (work / "texts.json").exists() else []
        self.matrix = np.load(work / "vectors.npy", allow_pickle=False) if self.texts else np.zeros((0, 384), np.float32)
        self.row = {t: i for i, t in enumerate(self.texts)}

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def encode(self, texts, progress: bool = False, **kwargs) -> np.ndarray:
        missing = sorted({t for t in texts if t not in self.row})
        if missing:
            fresh = self.inner.encode(missing, progress=progress)
            for t, v in zip(missing, fresh):
                self.row[t] = len(self.texts)
                self.texts.append(t)
            self.matrix = np.concatenate([self.matrix, fresh.astype(np.float32)]) if len(self.matrix) else fresh
        return self.matrix[[self.row[t] for t in texts]]

    def save(self, work: Path) -> None:
        (work / "texts.json").write_text(json.dumps(self.texts))
        np.save(work / "vectors.npy", np.asarray(self.matrix, np.float32), allow_pickle=False)


def count_client_calls() -> collections.Counter:
    """Count every public MilvusClient method call from now on (class-level wrappers)."""
    from pymilvus import MilvusClient

    calls: collections.Counter = collections.Counter()
    for name in [n for n in dir(MilvusClient) if not n.startswith("_") and callable(getattr(MilvusClient, n))]:
        original = getattr(MilvusClient, name)
        if isinstance(original, (staticmethod, classmethod)) or name in ("create_schema", "prepare_index_params"):
            continue

        def wrapped(self, *args, _original=original, _name=name, **kwargs):
            calls[_name] += 1
            return _original(self, *args, **kwargs)
        setattr(MilvusClient, name, wrapped)
    return calls


def spec_of(store: str, work: Path, tag: str, server=None) -> tuple[str | None, Path]:
    if store == "local":
        return None, work / f"{tag}-local-index"
    if store == "server":
        return server.spec, work / f"{tag}-unused-index"
    return f"milvus:{work / f'{tag}-milvus.db'}", work / f"{tag}-unused-index"


def serving(store: str, work: Path, tag: str):
    """The milvus-lite server of ``tag``'s data (started), or None for the other stores."""
    if store != "server":
        return None
    from milvus_server import MilvusLiteServer

    return MilvusLiteServer(work / f"{tag}-server-data").start()


def build(store: str, docs: str, work: Path, tag: str) -> dict:
    from qa import Retriever

    embedder = CachedEmbedder(work)
    server = serving(store, work, tag)
    try:
        spec, index = spec_of(store, work, tag, server)
        start = time.perf_counter()
        r = Retriever.from_directory(docs, index_dir=index, embedder=embedder, store=spec)
        took = time.perf_counter() - start
    finally:
        if server is not None:
            server.stop()
    embedder.save(work)
    return {"store": store, "build_s": round(took, 1), "embedded": r.last_update.embedded_sentences, "sentences": len(r)}


def measure(store: str, questions_file: str, work: Path, tag: str, limit: int) -> dict:
    calls = count_client_calls() if store != "local" else collections.Counter()
    from qa.evaluation import read_questions

    questions = [q.question for q in read_questions(questions_file)][:limit]
    embedder = CachedEmbedder(work)
    embedder.encode(questions)  # question vectors known before timing: the stores are measured, not the model
    embedder.inner.encode(["The model is loaded before memory is measured."])
    server = serving(store, work, tag)
    try:
        return _measure(store, questions, embedder, calls, work, tag, server)
    finally:
        if server is not None:
            server.stop()


def _measure(store, questions, embedder, calls, work: Path, tag: str, server) -> dict:
    from qa import Retriever

    base = rss_mb()
    spec, index = spec_of(store, work, tag, server)
    start = time.perf_counter()
    r = Retriever(index_dir=index, embedder=embedder, store=spec).load()
    len(r)
    opened = time.perf_counter() - start
    open_calls = dict(calls)
    after_open = rss_mb()
    calls.clear()
    for q in questions[:WARMUP]:
        r.search(q, k=K)
    calls.clear()
    times, trips = [], []
    for q in questions:
        before = sum(calls.values())
        t = time.perf_counter()
        r.search(q, k=K)
        times.append(time.perf_counter() - t)
        trips.append(sum(calls.values()) - before)
    n = len(questions)
    per_question = {name: round(c / n, 2) for name, c in sorted(calls.items())}
    return {"store": store, "questions": n, "open_s": round(opened, 2), "rss_imports_mb": round(base, 1),
            "rss_after_open_mb": round(after_open, 1), "rss_after_questions_mb": round(rss_mb(), 1),
            "p50_ms": round(float(np.percentile(times, 50)) * 1000, 1),
            "p95_ms": round(float(np.percentile(times, 95)) * 1000, 1),
            "server_rss_mb": round(rss_mb(server.pid), 1) if server is not None else None,
            "open_calls": open_calls, "calls_per_question": per_question,
            "round_trips_per_question": round(sum(calls.values()) / n, 2),
            "max_round_trips": max(trips)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("docs")
    parser.add_argument("questions")
    parser.add_argument("--stores", default=",".join(STORES))
    parser.add_argument("--limit", type=int, default=200, help="questions measured (the first N of the file)")
    parser.add_argument("--work", default=str(ROOT / "bench" / "out" / "milvus-questions"))
    parser.add_argument("--tag", default="", help="names this corpus's stores in WORK (default: the folder's name)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    tag = args.tag or Path(args.docs).resolve().name
    if args.child:
        what, store = args.child.split(":")
        out = build(store, args.docs, work, tag) if what == "build" else measure(store, args.questions, work, tag, args.limit)
        print(json.dumps(out))
        return 0
    rows = []
    flags = ["-P"] if sys.flags.safe_path else []
    for store in [s for s in args.stores.split(",") if s]:
        for what in ("build", "measure"):
            cmd = [sys.executable, *flags, __file__, args.docs, args.questions, "--limit", str(args.limit),
                   "--work", str(work), "--tag", tag, "--child", f"{what}:{store}"]
            done = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
            if done.returncode:
                sys.stderr.write(done.stderr[-3000:])
                return done.returncode
            row = json.loads(done.stdout.strip().splitlines()[-1])
            print(json.dumps({"what": what, **row}), flush=True)
            rows.append(row)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
