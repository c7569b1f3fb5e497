"""Per-question CPU time of ranking plus building hits, questions embedded beforehand.

    python bench/rank_cpu.py [CHECKOUT]     # CHECKOUT: the qa source tree to measure (default: this one)

Wall-clock latency on a shared 2-core machine moves by a quarter between runs; the process's
own CPU time does not. Runs the 300 first squad-dev-a questions over bench/out/index-squad
three times and prints the ms per question of each pass. Knows the layouts before and after
the move into stage folders, so one commit can be compared with another in one sitting.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CODE = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else ROOT
sys.path.insert(0, str(CODE))

from qa import Retriever  # noqa: E402
from qa.embedding import Embedder  # noqa: E402

QUESTIONS = ROOT.parent / "shared" / "data" / "squad-dev-a" / "questions.jsonl"
qs = [json.loads(line)["question"] for line in QUESTIONS.open()][:300]
r = Retriever(ROOT / "bench" / "out" / "index-squad", embedder=Embedder()).load()
qv = r.embedder.encode(qs)
r.search(qs[0])

if hasattr(r, "_features"):  # the stage-folder layout
    from qa.ranking.query import Query
    from qa.retrieval.hits import make_hit

    f = r._features

    def one(i):
        ranked = r.fusion.rank(f, Query.parse(qs[i]), qv[i], 5, "hybrid")
        return [make_hit(f, row, s, k + 1, d) for k, (row, s, d) in enumerate(ranked.rows)]
else:  # before it
    from qa.retrieval import clean_question

    snap = r._snapshot

    def one(i):
        q, _ = clean_question(qs[i])
        ranked = r.fusion.rank(snap, q, qv[i], 5, "hybrid")
        return [snap.hit(row, s, k + 1, d) for k, (row, s, d) in enumerate(ranked.rows)]

for i in range(len(qs)):
    one(i)
passes = []
for _ in range(3):
    t = time.process_time()
    for i in range(len(qs)):
        one(i)
    passes.append(round((time.process_time() - t) / len(qs) * 1000, 2))
print(json.dumps({"code": str(CODE), "ms_per_question_cpu": passes}))
