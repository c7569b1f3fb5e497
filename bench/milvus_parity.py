"""Same answers on Milvus: squad-dev-a and the seed questions on the local store and on
milvus-lite (embedded), the same questions in the same run.

    python bench/milvus_parity.py [--sample N]     # N squad questions (seeded sample; default all)

Prints MRR@10 / R@1 of both stores, how many found/not-found decisions, top hits and top-10
lists differ, and the Milvus store's client calls per question (the most any question made).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
OUT = ROOT / "bench" / "out"

from qa import Retriever  # noqa: E402
from qa.embedding import Embedder  # noqa: E402
from qa.evaluation import read_questions, score  # noqa: E402


_INSTALLED: dict = {}


def count_calls() -> dict:
    """Client calls a question makes: every MilvusClient method, counted per search."""
    from pymilvus import MilvusClient

    from qa import Retriever as R

    if "counts" in _INSTALLED:
        _INSTALLED["counts"].update(total=0, max=0, now=0)
        return _INSTALLED["counts"]
    counts = _INSTALLED["counts"] = {"total": 0, "max": 0, "now": 0}
    for name in ("search", "query", "get", "query_iterator", "hybrid_search", "search_iterator"):
        original = getattr(MilvusClient, name)

        def wrapped(self, *args, _original=original, **kwargs):
            counts["now"] += 1
            return _original(self, *args, **kwargs)
        setattr(MilvusClient, name, wrapped)
    search = R.search

    def searched(self, *args, **kwargs):
        counts["now"] = 0
        try:
            return search(self, *args, **kwargs)
        finally:
            counts["total"] += counts["now"]
            counts["max"] = max(counts["max"], counts["now"])
    R.search = searched
    return counts


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sample", type=int, default=0)
    args = parser.parse_args()
    embedder = Embedder()
    out = {}
    for name, docs, questions in (("seed", ROOT / "seeds", DATA / "seed" / "questions.jsonl"),
                                  ("squad-dev-a", DATA / "squad-dev-a" / "docs", DATA / "squad-dev-a" / "questions.jsonl")):
        qs = read_questions(questions)
        if args.sample and name != "seed" and len(qs) > args.sample:
            qs = random.Random(7).sample(qs, args.sample)
        row = {"questions": len(qs)}
        results = {}
        for store in ("local", "milvus"):
            t = time.perf_counter()
            spec = f"milvus:{OUT / f'parity-{name}.db'}" if store == "milvus" else None
            r = Retriever.from_directory(docs, index_dir=OUT / f"index-parity-{name}", embedder=embedder, store=spec)
            build = time.perf_counter() - t
            t = time.perf_counter()
            # One question at a time on both stores: the same question vectors (a batch pads them together).
            calls = count_calls() if store == "milvus" else None
            results[store] = [r.search(q.question, k=10) for q in qs]
            if calls is not None:
                row["milvus_calls_per_question"] = round(calls["total"] / len(qs), 2)
                row["milvus_max_calls"] = calls["max"]
            rep = score(qs, results[store], "hybrid")
            row[store] = {"mrr@10": round(rep.mrr, 4), "r@1": round(rep.recall[1], 4), "open_or_build_s": round(build, 1),
                          "search_s": round(time.perf_counter() - t, 1)}
        row["found_differs"] = sum(a.found != b.found for a, b in zip(results["local"], results["milvus"]))
        row["top10_differs"] = sum([h.text for h in a.hits] != [h.text for h in b.hits]
                                   for a, b in zip(results["local"], results["milvus"]))
        row["top_hit_differs"] = sum((a.hits[0].text if a.hits else None) != (b.hits[0].text if b.hits else None)
                                     for a, b in zip(results["local"], results["milvus"]))
        out[name] = row
        print(json.dumps({name: row}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
