"""Scale: the IVF index against the exact scan, and closer looks at memory and the IVF index of a
large saved index (bench/RESULTS.md, "Speed and scale").

    python bench/scale.py ann [--sizes 20000 50000 100000]   exact scan vs IVF: latency, recall@10
    python bench/scale.py codes [--index DIR]         IVF code kinds (8/4-bit, PQ, RaBitQ) on a saved index's vectors
    python bench/scale.py warmup-memory [--index DIR] resident memory added by each structure search builds
    python bench/scale.py update [--index DIR]        finding stored vectors for an update's sentences
    python bench/scale.py faults                      resident bytes a random read of a mapped file costs

DIR defaults to the synthetic million-sentence index that ``python bench/speed.py query
--sizes 1000000 --keep`` (or ``query-build``) leaves in the benchmark folder.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import sys
import time

import numpy as np

from common import WORK, machine, memory, pct, questions, squad_retriever


def cmd_warmup_memory(args) -> dict:
    """What each structure a first search builds adds to resident memory, in a fresh process.

    Loads the saved index the normal way, then builds the snapshot's lazy structures one at
    a time in the order the first hybrid search builds them, printing this process's
    anonymous and file-backed resident bytes a sentence after each (cumulative, from before
    the load); then 3 questions.
    """
    from qa.embedding import Embedder
    from qa.retrieval import Retriever

    print(machine())
    embedder = Embedder()
    qs = questions(3)
    embedder.encode(qs)
    gc.collect()
    mem0 = memory()
    out = {}
    r = Retriever(args.index, embedder=embedder).load()
    snapshot = r._features
    n = len(snapshot.corpus)
    steps = [("load", lambda: None), ("lexical", lambda: snapshot.lexical),
             ("document_lexical", lambda: snapshot.document_lexical), ("answer_types", lambda: snapshot.answer_types),
             ("paragraphs", lambda: snapshot.paragraphs), ("groups", lambda: snapshot.groups),
             ("3 questions", lambda: [r.search(q, k=5) for q in qs])]
    for name, build in steps:
        build()
        gc.collect()
        mem = memory()
        out[name] = {key: round((mem[key] - mem0[key]) / n) for key in ("RssAnon", "RssFile")}
        print(json.dumps({name: out[name]}), flush=True)
    return out


def cmd_update(args) -> dict:
    """Time to find the stored vectors of an update's sentences, at the size of a saved index.

    Three successive updates, each a copy of one article plus a new closing sentence (so one
    sentence is embedded), through ``Retriever._embed_spans``; and, as the baseline, what the
    old code built on every update: a text -> vector dict over the whole index.
    """
    from qa.embedding import Embedder
    from qa.ranking.features import Features
    from qa.documents.loading import Document
    from qa.retrieval import Retriever
    from qa.documents.sentences import split_document

    print(machine())
    r = Retriever(args.index, embedder=Embedder()).load()
    r.embedder.encode(["warm up"])
    base = r._features.store
    out = {"size": len(base), "updates": []}
    for i in range(3):
        doc = base.corpus.documents[5]
        doc = Document(f"update-{i}.txt", doc.title, f"{doc.text}\n\nA closing sentence number {i}.", f"sha-update-{i}")
        spans = split_document(doc)
        t = time.perf_counter()
        vectors, encoded = r._embed_spans([doc], [spans], False)
        lookup_s = time.perf_counter() - t
        r._features = Features(r._features.store.changed(add=[(doc, spans, vectors[0])]))
        out["updates"].append({"sentences": len(spans), "embedded": encoded, "lookup_ms": round(lookup_s * 1000)})
        print(json.dumps(out["updates"][-1]), flush=True)
    t = time.perf_counter()
    old = dict(zip(base.corpus.texts(), base.matrix))
    out["baseline_text_to_vector_dict_ms"] = round((time.perf_counter() - t) * 1000)
    del old
    print(json.dumps(out))
    return out


def cmd_faults(args) -> dict:
    """How much of a memory-mapped file one random read makes resident, by page-cache state and advice.

    A 256 MiB file of random bytes in the benchmark folder, read 1,000 times at random
    offsets through a read-only mapping; the growth of this process's file-backed RSS per
    read. "cached": read through first with read() (as the checksum pass does); "uncached":
    its pages dropped from the page cache first.
    """
    import mmap

    print(machine())
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / "faults.bin"
    with open(path, "wb") as f:
        f.write(os.urandom(256 << 20))
        f.flush()
        os.fsync(f.fileno())
    out = {}
    try:
        for cached in (True, False):
            for advice in ("MADV_NORMAL", "MADV_RANDOM"):
                with open(path, "rb") as f:
                    if cached:
                        while f.read(1 << 20):
                            pass
                    else:
                        os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
                    mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
                mapped.madvise(getattr(mmap, advice))
                data = np.frombuffer(mapped, dtype=np.uint8)
                before = memory()["RssFile"]
                sum(int(data[i]) for i in np.random.default_rng(1).integers(0, len(data), 1000))
                key = f"{'cached' if cached else 'uncached'}_{advice}_kib_per_read"
                out[key] = round((memory()["RssFile"] - before) / 1000 / 1024)
                print(json.dumps({key: out[key]}), flush=True)
                del data
                mapped.close()
    finally:
        path.unlink()
    return out


def cmd_ann(args) -> list[dict]:
    """Exact scan vs the IVF index by size (vectors only): latency, recall, build time.

    Vectors: the real SQuAD sentence vectors, each repeated with Gaussian noise as in
    ``common.synthesize`` (SYNTHETIC); queries: real SQuAD questions.
    """
    from qa import store as store_mod
    from qa.embedding import Embedder

    logging.basicConfig(level=logging.WARNING)  # as when this ran under bench/speed.py
    print(machine())
    base = squad_retriever()._features.store.matrix.astype(np.float32)
    queries = Embedder().encode(questions(args.queries))
    rng = np.random.default_rng(0)
    out = []
    for n in args.sizes:
        v = base[rng.integers(0, len(base), n)] + rng.normal(0, 0.03, (n, base.shape[1])).astype(np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        exact = store_mod.ExactIndex(v)
        t = time.perf_counter()
        approx = store_mod.ApproximateIndex(v.astype(np.float16))
        build_s = time.perf_counter() - t

        def lat(index):
            times = []
            for q in queries:
                t0 = time.perf_counter()
                index.search(q[None, :], 100)
                times.append(time.perf_counter() - t0)
            return round(pct(times, 50), 2)

        _, truth = exact.search(queries, 100)
        _, got = approx.search(queries, 100)
        row = {"size": n, "exact_p50_ms": lat(exact), "ivf_p50_ms": lat(approx), "ivf_build_s": round(build_s, 1),
               "nlist": approx.nlist, "nprobe": approx.index.nprobe,
               "recall@10": round(float(np.mean([len(set(truth[i, :10]) & set(got[i, :10])) / 10 for i in range(len(queries))])), 4),
               "recall@100": round(float(np.mean([len(set(truth[i]) & set(got[i])) / 100 for i in range(len(queries))])), 4)}
        row["exact_over_ivf"] = round(row["exact_p50_ms"] / row["ivf_p50_ms"], 1)
        out.append(row)
        print(json.dumps(row), flush=True)
    return out


CODE_KINDS = {
    # name: how to make that FAISS IVF index from (faiss, quantizer, d, nlist); all inner product
    "sq8": lambda f, q, d, n: f.IndexIVFScalarQuantizer(q, d, n, f.ScalarQuantizer.QT_8bit, f.METRIC_INNER_PRODUCT),
    "sq4": lambda f, q, d, n: f.IndexIVFScalarQuantizer(q, d, n, f.ScalarQuantizer.QT_4bit, f.METRIC_INNER_PRODUCT),
    "pq64x8": lambda f, q, d, n: f.IndexIVFPQ(q, d, n, 64, 8, f.METRIC_INNER_PRODUCT),
    "pq96x8": lambda f, q, d, n: f.IndexIVFPQ(q, d, n, 96, 8, f.METRIC_INNER_PRODUCT),
    "pqfs64x4": lambda f, q, d, n: f.IndexIVFPQFastScan(q, d, n, 64, 4, f.METRIC_INNER_PRODUCT),
    "pqfs96x4": lambda f, q, d, n: f.IndexIVFPQFastScan(q, d, n, 96, 4, f.METRIC_INNER_PRODUCT),
    "rabitq1": lambda f, q, d, n: f.IndexIVFRaBitQ(q, d, n, f.METRIC_INNER_PRODUCT),
    "rabitq2": lambda f, q, d, n: f.IndexIVFRaBitQ(q, d, n, f.METRIC_INNER_PRODUCT, True, 2),
}


def cmd_codes(args) -> list[dict]:
    """IVF code kinds side by side on the vectors of a saved index (its first ``--sizes`` rows).

    Each kind gets the qa IVF set-up (about sqrt(n) lists, 64 training points a list, 10
    k-means rounds, nprobe 48) and exact float16 rescoring of 4x and 8x the 100 asked;
    recall is against an exact scan of the same rows; queries are real SQuAD questions.
    """
    import faiss

    from qa import store as store_mod
    from qa.embedding import Embedder

    print(machine())
    stored = store_mod.load(args.index).matrix
    queries = Embedder().encode(questions(args.queries)).astype(np.float32)
    out = []
    for size in args.sizes:
        v = stored[:size or len(stored)]
        n, d = v.shape
        flat = faiss.IndexFlatIP(d)
        for lo in range(0, n, 65536):
            flat.add(np.ascontiguousarray(v[lo:lo + 65536], dtype=np.float32))
        _, truth = flat.search(queries, 100)
        flat.reset()
        nlist = max(1, min(int(round(np.sqrt(n))), n // 39))
        rng = np.random.default_rng(1234)
        sample = np.ascontiguousarray(v[np.sort(rng.choice(n, size=min(n, nlist * 64), replace=False))], dtype=np.float32)
        for kind in args.kinds:
            t = time.perf_counter()
            coarse = faiss.IndexFlatIP(d)
            index = CODE_KINDS[kind](faiss, coarse, d, nlist)
            index.cp.max_points_per_centroid, index.cp.niter, index.cp.seed = 64, 10, 1234
            index.train(sample)
            for lo in range(0, n, 65536):
                index.add(np.ascontiguousarray(v[lo:lo + 65536], dtype=np.float32))
            row = {"size": n, "kind": kind, "code_bytes": int(index.code_size), "build_s": round(time.perf_counter() - t, 1)}
            index.nprobe = min(nlist, 48)
            for rescore in (4, 8):
                times, got = [], []
                for q in queries:
                    t0 = time.perf_counter()
                    _, rows = index.search(q[None, :], 100 * rescore)
                    scores = v[np.where(rows[0] >= 0, rows[0], 0)].astype(np.float32) @ q
                    scores[rows[0] < 0] = -np.inf
                    got.append(rows[0][np.argsort(-scores, kind="stable")[:100]])
                    times.append(time.perf_counter() - t0)
                row[f"rescore{rescore}"] = {
                    "recall@10": round(float(np.mean([len(set(truth[i, :10]) & set(g[:10])) / 10 for i, g in enumerate(got)])), 4),
                    "recall@100": round(float(np.mean([len(set(truth[i]) & set(g)) / 100 for i, g in enumerate(got)])), 4),
                    "p50_ms": round(pct(times, 50), 2)}
            del index, coarse
            out.append(row)
            print(json.dumps(row), flush=True)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    index_help = "a saved index (speed.py query --keep leaves one)"
    for name in ("warmup-memory", "update"):
        sub.add_parser(name).add_argument("--index", default=str(WORK / "synthetic-1000000"), help=index_help)
    sub.add_parser("faults")
    p = sub.add_parser("ann")
    p.add_argument("--sizes", type=int, nargs="+", default=[20_000, 50_000, 100_000])
    p.add_argument("--queries", type=int, default=200)
    p = sub.add_parser("codes")
    p.add_argument("--index", default=str(WORK / "synthetic-1000000"), help=index_help)
    p.add_argument("--sizes", type=int, nargs="+", default=[60_000, 100_000, 0], help="first rows used; 0: all")
    p.add_argument("--kinds", nargs="+", default=list(CODE_KINDS), choices=list(CODE_KINDS))
    p.add_argument("--queries", type=int, default=200)
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    {"ann": cmd_ann, "codes": cmd_codes, "warmup-memory": cmd_warmup_memory, "update": cmd_update, "faults": cmd_faults}[args.command](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
