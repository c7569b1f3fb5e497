"""Speed and scale benchmarks, each run side by side with its baseline (bench/RESULTS.md).

    python bench/speed.py build  [--articles 150]     index build vs plain SentenceTransformer.encode
    python bench/speed.py query  [--sizes 10000 100000 1000000]   warm hybrid latency, memory, disk, ANN recall
                                 (each size built and saved, then loaded and queried in a fresh process)
    python bench/speed.py quality                     `qa eval` MRR@10 on SQuAD dev A per backend
    python bench/speed.py cold                        `qa ask` and `python app.py` from a fresh process

Data: BBC articles from /work/shared/data/bbc (read in place, copied only to a temporary
folder, never into the repository) and SQuAD dev half A. Sizes above the real corpus are
synthesized (see ``common.synthesize``): real SQuAD articles with a share of their words replaced,
and the real sentence vectors with Gaussian noise added. Every figure prints with the CPU
model and core count; compare the ratios, the machine is shared. bench/scale.py holds the
exact scan vs IVF comparison by size (``ann``) and the closer looks at memory and the IVF
index at a million sentences; bench/common.py the paths and helpers both use.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from common import (BBC, ROOT, SQUAD_DOCS, SQUAD_QUESTIONS, WORK, machine, mapped_resident, memory, memory_parts,
                    peak_rss_mb, pct, questions, squad_retriever, synthesize)


# -- build throughput -------------------------------------------------------------------

def bbc_subset(n_articles: int) -> list[Path]:
    """Every k-th BBC article (all five categories): ``n_articles`` of them, or all with 0."""
    files = sorted(BBC.glob("*/*.txt"))
    step = max(1, len(files) // n_articles) if n_articles else 1
    return files[::step][:n_articles] if n_articles else files


def cmd_build(args) -> dict:
    """Index build vs plain encode, interleaved slice by slice so that load changes hit both.

    For each slice of articles: plain ``SentenceTransformer.encode`` (batch 64) of the slice's
    sentences, then a full ``Retriever.from_directory`` build of the slice (read, split,
    embed, save) for each backend. Models are loaded before timing starts.
    """
    from qa.embedding.embedder import Embedder, _packaged_model_path
    from qa.documents.loading import load_directory
    from qa.retrieval import Retriever
    from qa.documents.sentences import split_document
    from sentence_transformers import SentenceTransformer

    files = bbc_subset(args.articles)
    slices = [files[i:i + args.slice] for i in range(0, len(files), args.slice)]
    plain = SentenceTransformer(_packaged_model_path(), device="cpu", local_files_only=True)
    plain.encode(["warm up"], batch_size=64)
    embedders = {b: Embedder(backend=b) for b in args.backends}
    for e in embedders.values():
        e.encode(["warm up"])  # model load (and a one-time export) outside the timing
    print(f"{machine()}\nBBC: {len(files)} articles in {len(slices)} slices; backends {[e.backend for e in embedders.values()]}")
    totals = {"plain": 0.0, **{b: 0.0 for b in args.backends}}
    cpu = {"plain": 0.0, **{b: 0.0 for b in args.backends}}
    n_sentences, worst_diff = 0, 0.0
    for files_i in slices:
        folder = Path(tempfile.mkdtemp(prefix="qa-bbc-"))  # a temporary copy, never in the repo
        try:
            for f in files_i:
                shutil.copy(f, folder / f"{f.parent.name}-{f.name}")
            report = load_directory(folder)
            texts = [d.text[s.start:s.end] for d in report.documents for s in split_document(d)]
            n_sentences += len(texts)
            c, t = time.process_time(), time.perf_counter()
            ref = plain.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
            totals["plain"] += time.perf_counter() - t
            cpu["plain"] += time.process_time() - c
            for backend, embedder in embedders.items():
                index_dir = Path(tempfile.mkdtemp(prefix="qa-bench-index-"))
                try:
                    c, t = time.process_time(), time.perf_counter()
                    r = Retriever.from_directory(folder, index_dir=index_dir, embedder=embedder, rebuild=True)
                    totals[backend] += time.perf_counter() - t
                    cpu[backend] += time.process_time() - c
                    if embedder.backend == "onnx":
                        by_text = dict(zip(texts, ref))
                        got = r._features.store.matrix.astype(np.float32)
                        want = np.stack([by_text[x] for x in r._features.corpus.texts()])
                        worst_diff = max(worst_diff, float(np.abs(got - want).max()))
                finally:
                    shutil.rmtree(index_dir, ignore_errors=True)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        print(json.dumps({k: round(v, 1) for k, v in totals.items()}), flush=True)
    results = {"sentences": n_sentences, "articles": len(files)}
    for key, seconds in totals.items():
        results[f"{key}_sentences_per_s"] = round(n_sentences / seconds, 1)
        results[f"{key}_cpu_s"] = round(cpu[key], 1)
        if key != "plain":
            results[f"{key}_vs_plain"] = round(totals["plain"] / seconds, 2)
    results["onnx_vs_torch_max_abs_diff"] = worst_diff
    print(json.dumps(results, indent=1))
    return results


def cmd_quality(args) -> dict:
    """MRR@10 on SQuAD dev half A with the index built and queried by each backend (`qa eval`)."""
    print(machine())
    qa = str(Path(sys.executable).with_name("qa"))
    out = {}
    for backend in args.backends:
        index = WORK / f"quality-{backend}"
        env = {**os.environ, "QA_EMBED_BACKEND": backend, "HF_HUB_OFFLINE": "1"}
        cmd = [qa, "eval", str(SQUAD_QUESTIONS), "--docs", str(SQUAD_DOCS), "--index", str(index), "--json", "--rebuild"]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
        if proc.returncode:
            raise SystemExit(proc.stderr[-2000:])
        report = json.loads(proc.stdout.strip().splitlines()[-1])
        out[backend] = {k: report[k] for k in ("mrr@10", "r@1", "r@5", "r@10")}
        print(backend, json.dumps(out[backend]), flush=True)
    if "torch" in out:
        for backend in out:
            out[backend]["mrr_minus_torch"] = round(out[backend]["mrr@10"] - out["torch"]["mrr@10"], 4)
    print(json.dumps(out, indent=1))
    return out


# -- warm query latency, memory, disk ----------------------------------------------------
def cmd_query_build(args) -> dict:
    """Synthesize a store of ``--size`` sentences and save it (IVF index included) to ``--index``."""
    from qa import store as store_mod

    t = time.perf_counter()
    base = squad_retriever()._features.store
    store = synthesize(base, args.size) if args.size > len(base) else base
    synth_s = time.perf_counter() - t
    t = time.perf_counter()
    store_mod.save(store, args.index)
    out = {"size": len(store), "synthesize_s": round(synth_s, 1), "save_s": round(time.perf_counter() - t, 1),
           "peak_rss_mb": round(peak_rss_mb())}
    print(json.dumps(out))
    return out


def cmd_query_one(args) -> dict:
    """One saved index, loaded in this fresh process the way the app loads it, then queried.

    Memory is this process's resident memory after the load, the warm-up and the questions,
    minus what it held before the load (the model and the question vectors).
    """
    from qa.embedding import Embedder
    from qa.retrieval import Retriever

    embedder = Embedder()
    qs = questions(args.queries)
    qvecs = embedder.encode(qs)
    gc.collect()
    mem0 = memory()
    t = time.perf_counter()
    r = Retriever(args.index, embedder=embedder).load()
    load_s = time.perf_counter() - t
    store = r._features.store
    n = len(store)
    t = time.perf_counter()
    for q in qs[:3]:  # builds BM25, answer types, groups: warm from here on
        r.search(q, k=5)
    warm_s = time.perf_counter() - t
    gc.collect()
    mem_warm = memory()
    out = {"size": n, "synthetic": n > 5009, "approximate": store.approximate,
           "vectors_mapped": isinstance(store.matrix, np.memmap), "load_s": round(load_s, 1), "warm_up_s": round(warm_s, 1)}

    def lat(fn, items):
        times = []
        for item in items:
            t0 = time.perf_counter()
            fn(item)
            times.append(time.perf_counter() - t0)
        return {"p50_ms": round(pct(times, 50), 2), "p95_ms": round(pct(times, 95), 2)}

    out["hybrid"] = lat(lambda q: r.search(q, k=5), qs)
    gc.collect()
    mem1 = memory()

    def per_sentence(after: dict) -> dict:
        return {key: round((after[key] - mem0[key]) / n) for key in ("VmRSS", "RssAnon", "RssFile")}

    out["memory_bytes_per_sentence"] = per_sentence(mem1)["VmRSS"]
    out["memory_after_warm_up"] = per_sentence(mem_warm)
    out["memory_after_questions"] = per_sentence(mem1)
    mapped_size, mapped_rss = mapped_resident("vectors.npy")
    out["mapped_vectors_bytes_per_sentence"] = round(mapped_size / n)
    out["mapped_vectors_resident_share"] = round(mapped_rss / mapped_size, 3) if mapped_size else None
    out["memory_parts_bytes_per_sentence"] = {k: round(v / n) for k, v in memory_parts(r._features).items()}
    out["rss_mb"] = round(mem1["VmRSS"] / 2**20)
    out["peak_rss_mb"] = round(peak_rss_mb())
    folder = Path(args.index) / json.loads((Path(args.index) / "manifest.json").read_text())["folder"]
    files = {p.name: p.stat().st_size for p in folder.iterdir()}
    out["disk_bytes_per_sentence"] = round((sum(files.values()) + (Path(args.index) / "manifest.json").stat().st_size) / n)
    out["disk_parts_bytes_per_sentence"] = {name: round(size / n) for name, size in sorted(files.items())}
    out["encode_query"] = lat(lambda q: embedder.encode([q]), qs[:50])
    out["dense_search_k100"] = lat(lambda v: store.search(v[None, :], 100), qvecs)
    # Baseline of the same run: the exact flat scan in FAISS (the old path up to 200k)
    # and the torch query encoder. Built after the memory was measured: it reads every vector.
    import faiss

    flat = faiss.IndexFlatIP(store.dimension)
    for lo in range(0, n, 65536):
        flat.add(np.ascontiguousarray(store.matrix[lo:lo + 65536], dtype=np.float32))
    out["baseline_faiss_flat_k100"] = lat(lambda v: flat.search(v[None, :], 100), qvecs[:50])
    _, exact = flat.search(qvecs, 100)
    _, approx = store.search(qvecs, 100)
    out["recall@10"] = round(float(np.mean([len(set(exact[i, :10]) & set(approx[i, :10])) / 10 for i in range(len(qs))])), 4)
    out["recall@100"] = round(float(np.mean([len(set(exact[i]) & set(approx[i])) / 100 for i in range(len(qs))])), 4)
    flat.reset()
    if args.torch_baseline:
        torch_embedder = Embedder(backend="torch")
        torch_embedder.encode(["warm up"])
        out["baseline_torch_encode_query"] = lat(lambda q: torch_embedder.encode([q]), qs[:50])
    print(json.dumps(out))
    return out


def _child(args: list[str]) -> dict:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode or not lines:
        print(proc.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"{' '.join(args)} failed")
    return json.loads(lines[-1])


def cmd_query(args) -> list[dict]:
    """Per size: build and save the index in one process, load and query it in a fresh one."""
    print(machine())
    squad_retriever()  # build the real base index once, outside the timed children
    results = []
    for size in args.sizes:
        kept = WORK / f"synthetic-{size}"
        index = kept if args.keep else Path(tempfile.mkdtemp(prefix=f"qa-bench-{size}-"))
        try:
            if not (args.keep and kept.exists()):
                build = _child(["query-build", "--size", str(size), "--index", str(index)])
                print(json.dumps({"build": build}), flush=True)
            result = _child(["query-one", "--index", str(index), "--queries", str(args.queries)]
                            + (["--torch-baseline"] if args.torch_baseline else []))
        finally:
            if not args.keep:
                shutil.rmtree(index, ignore_errors=True)
        results.append(result)
        print(json.dumps(result), flush=True)
    return results


# -- cold start ---------------------------------------------------------------------------

def _time_cmd(cmd, env) -> float:
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr[-2000:]}")
    return time.perf_counter() - t


def _time_app(env, port: int, docs: Path, index: Path) -> float:
    """From `python app.py` until its search API answered the first question."""
    import urllib.request

    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py", "--docs", str(docs), "--index", str(index), "--port", str(port)],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        from gradio_client import Client

        while True:
            if proc.poll() is not None:
                raise SystemExit("app.py exited")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        answer = client.predict("Who founded the university?", api_name="/search")
        assert answer["hits"], answer
        return time.perf_counter() - t
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def cmd_cold(args) -> dict:
    print(machine())
    index = WORK / "squad-dev-a"
    squad_retriever()  # a built index (embedded once, reused)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    qa = str(Path(sys.executable).with_name("qa"))
    ask = [qa, "ask", "Who founded the university?", "--docs", str(SQUAD_DOCS), "--index", str(index)]
    out = {"index_sentences": 5009}
    rows = []
    for _ in range(args.rounds):
        row = {}
        for backend in ("torch", "auto"):
            row[f"ask_{backend}_s"] = round(_time_cmd(ask, {**env, "QA_EMBED_BACKEND": backend}), 2)
        if not args.no_app:
            for backend in ("torch", "auto"):
                row[f"app_{backend}_s"] = round(_time_app({**env, "QA_EMBED_BACKEND": backend}, args.port,
                                                          SQUAD_DOCS, index), 2)
        rows.append(row)
        print(json.dumps(row), flush=True)
    for key in rows[0]:
        out[key] = min(r[key] for r in rows)
    out["ask_ratio"] = round(out["ask_torch_s"] / out["ask_auto_s"], 2)
    if not args.no_app:
        out["app_ratio"] = round(out["app_torch_s"] / out["app_auto_s"], 2)
    out["python_startup_s"] = round(_time_cmd([sys.executable, "-c", "pass"], env), 3)
    out["import_qa_s"] = round(_time_cmd([sys.executable, "-c", "import qa"], env), 2)
    out["import_sentence_transformers_s"] = round(_time_cmd([sys.executable, "-c", "import sentence_transformers"], env), 2)
    print(json.dumps(out, indent=1))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("build")
    p.add_argument("--articles", type=int, default=150, help="every k-th BBC article, this many (0: all 2,225)")
    p.add_argument("--slice", type=int, default=15, help="articles per interleaved slice")
    p.add_argument("--backends", nargs="+", default=["auto", "onnx-int8"])
    p = sub.add_parser("quality")
    p.add_argument("--backends", nargs="+", default=["torch", "onnx", "onnx-int8"])
    p = sub.add_parser("query")
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--torch-baseline", action="store_true")
    p.add_argument("--keep", action="store_true", help=f"keep each built index in {WORK}/synthetic-SIZE and reuse it")
    p = sub.add_parser("query-build")
    p.add_argument("--size", type=int, required=True)
    p.add_argument("--index", required=True)
    p = sub.add_parser("query-one")
    p.add_argument("--index", required=True)
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--torch-baseline", action="store_true")
    p = sub.add_parser("cold")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--port", type=int, default=7899)
    p.add_argument("--no-app", action="store_true")
    args = parser.parse_args(argv)
    import logging

    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    {"build": cmd_build, "quality": cmd_quality, "query": cmd_query, "query-build": cmd_query_build,
     "query-one": cmd_query_one, "cold": cmd_cold}[args.command](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
