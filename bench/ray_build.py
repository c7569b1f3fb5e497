"""Ray build throughput: sentences/s of ``RayEmbedder`` with 1 and 2 workers against the plain Embedder
(bench/RESULTS.md, "Scaling out"; issue 13, point 7).

    python bench/ray_build.py [--sentences 2500] [--workers 1 2] [--batch-size 256] [--json]

The same sentences for every row: the first N sentences of the BBC articles (in file order)
under $QA_DATA/bbc, read in place. The plain row is one process with its model loaded and
warm; each Ray row is one ``encode`` call on a local Ray instance (num_cpus = the largest
worker count, 200 MB object store) that is already running, so its time includes what every
Ray build pays per call: starting the worker actors, loading the model in each, scheduling
the batches and shipping the vectors back. "max |diff|" is the largest difference per
component from the plain vectors. The instance's start is reported on its own line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from common import BBC, machine


def bbc_sentences(n: int) -> list[str]:
    from qa.documents.loading import read_document
    from qa.documents.sentences import split_document

    out: list[str] = []
    for path in sorted(BBC.glob("*/*.txt")):
        doc = read_document(path)
        out += [doc.text[s.start:s.end] for s in split_document(doc)]
        if len(out) >= n:
            return out[:n]
    raise SystemExit(f"only {len(out)} sentences under {BBC}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=2500)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--json", action="store_true", help="print the rows as JSON after the table")
    args = parser.parse_args()

    import ray

    from qa.embedding import Embedder
    from qa.embedding.distributed import RayEmbedder

    texts = bbc_sentences(args.sentences)
    start_load = machine()
    plain = Embedder()
    plain.encode(texts[:32])  # load and warm the model: the row measures encoding only
    t0 = time.perf_counter()
    reference = plain.encode(texts)
    rows = [{"setup": f"Embedder, one process ({plain.backend})", "workers": 1, "seconds": time.perf_counter() - t0,
             "max_diff": 0.0}]

    cluster = RayEmbedder("local", workers=max(args.workers), batch_size=args.batch_size, local_below=0)
    t0 = time.perf_counter()
    cluster._connect()
    started = time.perf_counter() - t0
    try:
        for workers in args.workers:
            emb = RayEmbedder("local", workers=workers, batch_size=args.batch_size, local_below=0)
            t0 = time.perf_counter()
            got = emb.encode(texts)
            rows.append({"setup": f"RayEmbedder, local Ray, batch {args.batch_size}", "workers": workers,
                         "seconds": time.perf_counter() - t0, "max_diff": float(np.abs(got - reference).max())})
    finally:
        cluster.close()
        ray.shutdown()

    print(f"`python bench/ray_build.py --sentences {args.sentences} --workers {' '.join(map(str, args.workers))} "
          f"--batch-size {args.batch_size}`  ")
    print(f"{start_load}; load average {__import__('os').getloadavg()[0]:.1f} at the end; "
          f"{len(texts)} BBC sentences; Ray {ray.__version__}; local Ray instance started in {started:.1f} s (not in the rows)")
    print()
    print("| setup | workers | seconds | sentences/s | max abs diff vs one process |")
    print("|---|---:|---:|---:|---:|")
    for row in rows:
        row["sentences_per_s"] = len(texts) / row["seconds"]
        print(f"| {row['setup']} | {row['workers']} | {row['seconds']:.1f} | {row['sentences_per_s']:.0f} | "
              f"{row['max_diff']:.1e} |")
    if args.json:
        print(json.dumps({"sentences": len(texts), "ray_start_s": started, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
