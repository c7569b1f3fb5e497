"""Local FAISS store vs Milvus (milvus-lite embedded, milvus-lite server) on the same vectors.

    python bench/milvus.py DOCS_DIR [--vectors random|model] [--queries 200] [--k 10]
                                    [--backends local,embedded,server] [--json]

Loads DOCS_DIR, splits it into sentences and makes one set of vectors (``random``: seeded
unit vectors, no model; ``model``: qa's embedder), then measures each store in a process of
its own, so that memory figures do not mix: the build (create, write every sentence,
persist), warm single-question search latency (p50/p95 after 10 warm-up searches; a
question is a sentence's vector plus noise in ``random`` mode, an embedded sentence
otherwise) and the resident memory of that process (for the server: its own, separately).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# Appended, not prepended: an installed qa (or one set up on PYTHONPATH) wins over the checkout.
sys.path.append(str(ROOT))
sys.path.append(str(ROOT / "tests" / "store"))  # milvus_server: the test suite's server helper
BACKENDS = ("local", "embedded", "server")


def rss_mb(pid: int | str = "self") -> float:
    """Resident memory now, from /proc (MB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def corpus(folder: str):
    from qa.documents.loading import load_directory
    from qa.documents.sentences import split_document

    docs = load_directory(folder).documents
    return [(doc, split_document(doc)) for doc in docs]


def prepare(args, work: Path) -> dict:
    """Vectors and questions, written once for every backend (.npy, no pickle)."""
    items = corpus(args.docs)
    texts = [doc.text[s.start:s.end] for doc, spans in items for s in spans]
    rng = np.random.default_rng(0)
    if args.vectors == "model":
        from qa.embedding.embedder import Embedder

        embedder = Embedder()
        vectors, model = embedder.encode(texts), embedder.model_id
        picks = rng.choice(len(texts), size=args.queries, replace=True)
        questions = embedder.encode([texts[i] for i in picks])
    else:
        vectors = rng.normal(size=(len(texts), args.dimension)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        model = "random"
        questions = vectors[rng.choice(len(texts), size=args.queries)] + rng.normal(scale=0.3, size=(args.queries, vectors.shape[1]))
        questions = (questions / np.linalg.norm(questions, axis=1, keepdims=True)).astype(np.float32)
    np.save(work / "vectors.npy", np.asarray(vectors, np.float32), allow_pickle=False)
    np.save(work / "questions.npy", np.asarray(questions, np.float32), allow_pickle=False)
    return {"model": model, "documents": len(items), "sentences": len(texts), "dimension": int(vectors.shape[1])}


def measure(backend: str, args, work: Path, model: str) -> dict:
    """One backend, in this (child) process."""
    from qa.store.local import LocalStore
    from qa.store.milvus import open_milvus

    items = corpus(args.docs)
    vectors = np.load(work / "vectors.npy", allow_pickle=False)
    questions = np.load(work / "questions.npy", allow_pickle=False)
    add, at = [], 0
    for doc, spans in items:
        add.append((doc, spans, vectors[at:at + len(spans)]))
        at += len(spans)
    server, out = None, {"backend": backend}
    try:
        start = time.perf_counter()
        if backend == "local":
            store = LocalStore(model, vectors.shape[1]).changed(add=add).persist(work / f"{backend}-index")
        else:
            if backend == "server":
                from milvus_server import MilvusLiteServer

                server = MilvusLiteServer(work / "server-data").start()
                spec = server.spec
            else:
                spec = f"milvus:{work / 'embedded.db'}"
            store = open_milvus(spec, model, vectors.shape[1]).changed(add=add).persist(None)
        out["build_s"] = round(time.perf_counter() - start, 2)
        for q in questions[:10]:
            store.search(q[None], args.k)
        times = []
        for q in questions:
            t = time.perf_counter()
            store.search(q[None], args.k)
            times.append(time.perf_counter() - t)
        out["p50_ms"] = round(float(np.percentile(times, 50)) * 1000, 2)
        out["p95_ms"] = round(float(np.percentile(times, 95)) * 1000, 2)
        out["rss_mb"] = round(rss_mb(), 1)
        if server is not None:
            out["server_rss_mb"] = round(rss_mb(server.pid), 1)
    finally:
        if server is not None:
            server.stop()
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("docs", help="a folder of articles")
    parser.add_argument("--vectors", choices=("random", "model"), default="random")
    parser.add_argument("--dimension", type=int, default=384, help="of random vectors (model: the model's)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # BACKEND:WORKDIR:MODEL, run by the parent
    args = parser.parse_args(argv)
    if args.child:
        backend, work, model = args.child.split(":", 2)
        print(json.dumps(measure(backend, args, Path(work), model)))
        return 0
    backends = [b for b in args.backends.split(",") if b]
    unknown = set(backends) - set(BACKENDS)
    if unknown:
        parser.error(f"unknown backend {', '.join(sorted(unknown))}; use {', '.join(BACKENDS)}")
    with tempfile.TemporaryDirectory(prefix="qa-bench-milvus-") as tmp:
        work = Path(tmp)
        info = prepare(args, work)
        flags = ["-P"] if sys.flags.safe_path else []
        rows = []
        for backend in backends:
            cmd = [sys.executable, *flags, __file__, args.docs, "--vectors", args.vectors, "--queries", str(args.queries),
                   "--k", str(args.k), "--child", f"{backend}:{work}:{info['model']}"]
            done = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
            if done.returncode:
                sys.stderr.write(done.stderr[-2000:])
                return done.returncode
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    if args.json:
        print(json.dumps({**info, "vectors": args.vectors, "queries": args.queries, "k": args.k, "results": rows}))
        return 0
    print(f"{args.docs}: {info['documents']} documents, {info['sentences']} sentences, {args.vectors} vectors "
          f"(dimension {info['dimension']}), {args.queries} questions, k={args.k}, {os.cpu_count()} cores")
    print(f"{'store':<10} {'build s':>8} {'p50 ms':>8} {'p95 ms':>8} {'RSS MB':>8} {'server MB':>10}")
    for r in rows:
        print(f"{r['backend']:<10} {r['build_s']:>8} {r['p50_ms']:>8} {r['p95_ms']:>8} {r['rss_mb']:>8} "
              f"{r.get('server_rss_mb', ''):>10}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
