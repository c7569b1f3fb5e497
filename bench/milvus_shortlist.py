"""How deep Milvus's own BM25 must go for its top list to hold ranking's exact BM25 candidates.

    python bench/milvus_shortlist.py DOCS QUESTIONS [--sample 1000] [--depth 100]

qa ranks on BM25 with its own k1/b and the whole corpus's statistics (qa.ranking.lexical);
milvus-lite ignores k1/b (1.5/0.75) and keeps statistics per segment, so the Milvus store
takes a deeper shortlist from Milvus and rescores it exactly (qa.store.milvus_view,
BM25_OVERFETCH). This builds DOCS into an embedded Milvus store (seeded random vectors: no
model runs, BM25 only) and, for each question, compares ranking's top ``depth`` BM25
sentences (``Fusion``'s ``_top`` over the local BM25) with Milvus's top ``depth * f``
rescored exactly, for several ``f``: the questions whose top list the shortlist holds whole,
and the share of top-list sentences it holds.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT))  # an installed qa (or one on PYTHONPATH) wins over the checkout
FACTORS = (1, 2, 3, 5)


def main(argv=None) -> int:
    from qa.documents.loading import load_directory
    from qa.documents.sentences import split_document
    from qa.evaluation import read_questions
    from qa.ranking.lexical import Lexical
    from qa.ranking.query import Query
    from qa.store.local import LocalStore
    from qa.store.milvus import open_milvus
    from qa.store.milvus_view import _best, _scores
    from qa.store.terms import Statistics

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("docs")
    parser.add_argument("questions")
    parser.add_argument("--sample", type=int, default=1000)
    parser.add_argument("--depth", type=int, default=100)
    args = parser.parse_args(argv)
    docs = load_directory(args.docs).documents
    rng = np.random.default_rng(0)
    add = []
    for doc in docs:
        spans = split_document(doc)
        v = rng.normal(size=(len(spans), 8)).astype(np.float32)
        add.append((doc, spans, v / np.linalg.norm(v, axis=1, keepdims=True)))
    local = LocalStore("random", 8).changed(add=add)
    lexical = Lexical(local.corpus.texts())
    questions = read_questions(args.questions)
    if len(questions) > args.sample:
        questions = random.Random(7).sample(questions, args.sample)
    with tempfile.TemporaryDirectory(prefix="qa-shortlist-") as tmp:
        store = open_milvus(f"milvus:{tmp}/s.db", "random", 8).changed(add=add)
        counts, link = store.counts, store._link
        whole = {f: 0 for f in FACTORS}
        held = {f: 0 for f in FACTORS}
        wanted = asked = 0
        for q in questions:
            query = Query.parse(q.question)
            bm = lexical.scores(query.ids(lexical))
            positive = np.sort(bm[bm > 0])[::-1]
            if not len(positive):
                continue
            # ranking's top list: above the cut for sure, and as many as it takes of those at the cut
            cut = positive[args.depth - 1] if len(positive) > args.depth else 0.0
            above = set(local.corpus.ids[np.flatnonzero(bm > cut)].tolist()) if cut else \
                set(local.corpus.ids[np.flatnonzero(bm > 0)].tolist())
            tied = set(local.corpus.ids[np.flatnonzero(bm == cut)].tolist()) if cut else set()
            need = args.depth - len(above) if cut else 0
            asked += 1
            wanted += len(above) + need
            words = sorted(set(query.tokens))
            df = {w: len(lexical.rows_with(lexical.vocab[w])) for w in words if w in lexical.vocab}
            stats = Statistics(counts["sentences"], counts["sentence_tokens"], {w: df.get(w, 0) for w in words})
            text = " ".join(t for t in query.tokens if df.get(t, 0) > 0)
            found = link.call("search BM25", lambda c: c.search(
                link.spec.sentences, data=[text], limit=args.depth * max(FACTORS), filter=f"born <= {store.generation}",
                output_fields=["id", "tokens"], anns_field="sparse", search_params={"metric_type": "BM25"}))[0]
            rows = [dict(h["entity"]) for h in found]  # best first, in Milvus's order
            for f in FACTORS:
                shortlist = rows[:args.depth * f]
                kept = {int(shortlist[i]["id"]) for i in _best(_scores(shortlist, query.tokens, words, stats), args.depth)}
                got = len(above & kept) + min(need, len(tied & kept))
                held[f] += got
                whole[f] += got == len(above) + need
        out = {"docs": args.docs, "questions": asked, "depth": args.depth,
               "whole": {f"x{f}": round(whole[f] / asked, 4) for f in FACTORS},
               "held": {f"x{f}": round(held[f] / wanted, 5) for f in FACTORS}}
        print(json.dumps(out))
        store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
