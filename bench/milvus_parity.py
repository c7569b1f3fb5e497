"""Same answers on Milvus: squad-dev-a and the seed questions on the local store and on
milvus-lite (embedded), the same questions in the same run.

    python bench/milvus_parity.py [--sample N]     # N squad questions (seeded sample; default all)

Prints MRR@10 / R@1 of both stores and how many found/not-found decisions differ.
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
from qa.evaluation.metrics import ask_all  # noqa: E402


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
            results[store] = ask_all(r, qs)
            rep = score(qs, results[store], "hybrid")
            row[store] = {"mrr@10": round(rep.mrr, 4), "r@1": round(rep.recall[1], 4), "open_or_build_s": round(build, 1),
                          "search_s": round(time.perf_counter() - t, 1)}
        row["found_differs"] = sum(a.found != b.found for a, b in zip(results["local"], results["milvus"]))
        row["top_hit_differs"] = sum((a.hits[0].text if a.hits else None) != (b.hits[0].text if b.hits else None)
                                     for a, b in zip(results["local"], results["milvus"]))
        out[name] = row
        print(json.dumps({name: row}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
