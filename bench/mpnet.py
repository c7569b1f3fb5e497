"""all-mpnet-base-v2 as qa's embedding model, and as a second dense signal beside all-MiniLM-L6-v2 (issue 11).

    .venv/bin/python bench/mpnet.py --model /tmp/mpnet                   # every part, a Markdown report
    .venv/bin/python bench/mpnet.py --model /tmp/mpnet cost fuse         # only some parts
    nice -n 10 .venv/bin/python bench/mpnet.py --model /tmp/mpnet --no-news-index replace fuse

``--model`` is a local sentence-transformers folder of all-mpnet-base-v2 (qa never downloads;
bench/RESULTS.md, "all-mpnet-base-v2 (issue 11 lever)", says how it was put together and
checked). Indexes, the ONNX export and the vector cache live in ``QA_BENCH_DIR`` (default
/tmp/qa-bench), never in the repository; the news corpus there is made by
../shared/data/news-corpus.sh (symbolic links, nothing copied).

Parts:

- ``cost``: sentences a second to encode 500 news sentences (seeded sample) and the p50 of
  one question's embedding, MiniLM and mpnet, the same backend choice (``auto``), same run.
- ``replace``: mpnet as the only embedding model of qa's pipeline (indexes built with it, the
  hand weights and the found threshold as they are, tuned for MiniLM): every question asked
  through ``Retriever.search_batch`` and scored by ``qa.evaluation.score`` on squad-dev-a and
  news, hybrid and dense, beside MiniLM's in the same run, and compared question by question.
  Nothing fitted.
  ``--no-news-index`` skips the full news index (its cost is in ``cost``).
- ``fuse``: mpnet's cosine as a second dense signal over the MiniLM hand score's top
  ``Settings.rerank_depth`` candidates (only those sentences and the questions are encoded
  with mpnet, cached by text). (a) the learned re-ranker of bench/fit_rerank.py (its 23
  features, logistic regression, each set weighing the same) with and without the mpnet
  cosine as features; (b) hand score + w x mpnet cosine (min-max over the candidates), w
  chosen on the training folds (grid 0..2 step 0.05, mean of the two sets' MRR); also mpnet's
  cosine alone over the same candidates (nothing fitted). 5-fold cross-validation by article
  (``fit_rerank.fold_of``) over squad-dev-a + news; every fitted figure is the held-out folds'.
  The re-ranked lists are scored offline (dedup of identical sentences as the pipeline does);
  the hand baseline scored the same way is printed beside the pipeline's to show they agree.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from common import DATA, WORK, machine  # also puts the repository on sys.path
from fit_rerank import FOLDS, correct, fold_of, logistic

from qa import Retriever  # noqa: E402
from qa.documents.loading import load_directory  # noqa: E402
from qa.documents.sentences import split_document  # noqa: E402
from qa.embedding import Embedder  # noqa: E402
from qa.evaluation import evaluate, read_questions, score  # noqa: E402
from qa.evaluation.metrics import ask_all, rank_of_answer  # noqa: E402
from qa.ranking import Fusion, Query  # noqa: E402
from qa.ranking.signals import minmax  # noqa: E402

PARTS = ("cost", "replace", "fuse")
GRID = np.round(np.arange(0.0, 2.0001, 0.05), 2)


def news_folder() -> Path:
    folder = WORK / "news-corpus"
    subprocess.run(["bash", str(DATA / "news-corpus.sh"), str(folder)], check=True, capture_output=True)
    return folder


def sentences(folder: Path) -> list[str]:
    return [d.text[s.start:s.end] for d in load_directory(folder).documents for s in split_document(d)]


# -- cost ---------------------------------------------------------------------------------

def cost(models: dict[str, Embedder], sample: list[str], questions: list[str]) -> list[str]:
    rates, p50 = {n: [] for n in models}, {}
    for e in models.values():
        e.encode(sample[:32])  # load (and export once) before timing
    for _ in range(2):  # interleaved, best of two: the machine is shared
        for name, e in models.items():
            t = time.perf_counter()
            e.encode(sample)
            rates[name].append(len(sample) / (time.perf_counter() - t))
    for name, e in models.items():
        times = []
        for q in questions:
            t = time.perf_counter()
            e.encode([q])
            times.append((time.perf_counter() - t) * 1000)
        p50[name] = statistics.median(times)
    lines = ["### Cost", "", f"{machine()}. {len(sample)} news sentences (seeded sample), best of two interleaved "
             f"passes; query: {len(questions)} news questions one at a time.", "",
             "| model | backend | dim | sentences/s | 40k-sentence build (encode only) | query embedding p50 ms |",
             "|---|---|---|---|---|---|"]
    for name, e in models.items():
        r = max(rates[name])
        lines.append(f"| {name} | {e.backend} | {e.dimension} | {r:.0f} | {40000 / r / 60:.1f} min | {p50[name]:.1f} |")
    return lines + [""]


# -- replace ------------------------------------------------------------------------------

def versus(base: list[int], other: list[int]) -> str:
    """How many questions ``other`` ranks the answer higher / lower than ``base``, and how many it puts first that base did not."""
    b, o = np.array(base), np.array(other)
    return (f"higher {int((o < b).sum())}, lower {int((o > b).sum())} of {len(b)} "
            f"(first: +{int(((o == 1) & (b != 1)).sum())} / -{int(((o != 1) & (b == 1)).sum())})")


def replace(retrievers: dict[str, dict[str, Retriever]], sets: dict[str, list], builds: dict[str, float]) -> list[str]:
    lines = ["### mpnet instead of MiniLM (nothing fitted: hand weights and found threshold tuned for MiniLM)", "",
             "| set | model | mode | MRR@10 | R@1 | R@3 | R@10 | abstain | false abstain |", "|---" * 9 + "|"]
    paired = []
    for set_name, qs in sets.items():
        for mode in ("hybrid", "dense"):
            per_model = {}
            for model, by_set in retrievers.items():
                if set_name not in by_set:
                    continue
                results = ask_all(by_set[set_name], qs, mode)
                r = score(qs, results, mode).as_dict()
                per_model[model] = [rank_of_answer(x, q) or 11 for q, x in zip(qs, results) if q.answerable]
                cells = [r["mrr@10"], r["r@1"], r["r@3"], r["r@10"], r["abstain_recall"] or 0.0, r["false_abstain"] or 0.0]
                lines.append(f"| {set_name} | {model} | {mode} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")
            if len(per_model) == 2:
                paired.append(f"{set_name} {mode} {versus(*per_model.values())}")
    lines += ["", "Question by question, mpnet against MiniLM (first answer's rank, 11 when not in the top 10): "
              + "; ".join(paired) + "."]
    if builds:
        lines += ["", "Index builds (encode + store, this run): " +
                  ", ".join(f"{k} {v / 60:.1f} min" for k, v in builds.items()) + "."]
    return lines + [""]


# -- fuse ---------------------------------------------------------------------------------

class Cache:
    """mpnet vectors by sentence text, kept in ``WORK`` (one .npz per model folder)."""

    def __init__(self, embedder: Embedder):
        self.embedder = embedder
        key = hashlib.sha256(str(Path(embedder.model_id).resolve()).encode()).hexdigest()[:12]
        self.path = WORK / f"vectors-{key}.npz"
        self.vectors: dict[str, np.ndarray] = {}
        if self.path.is_file():
            z = np.load(self.path, allow_pickle=False)
            self.vectors = dict(zip(z["texts"].tolist(), z["vectors"]))

    def get(self, texts: list[str]) -> np.ndarray:
        todo = sorted({t for t in texts if t not in self.vectors})
        if todo:
            t = time.perf_counter()
            for text, v in zip(todo, self.embedder.encode(todo, progress=True)):
                self.vectors[text] = v.astype(np.float16)
            print(f"encoded {len(todo)} sentences with mpnet in {time.perf_counter() - t:.0f} s", file=sys.stderr)
            np.savez(self.path, texts=np.array(list(self.vectors)), vectors=np.stack(list(self.vectors.values())))
        return np.stack([self.vectors[t] for t in texts]).astype(np.float32)


def candidates(retriever: Retriever, questions, set_name: str) -> list[dict]:
    """Per answerable question: the hand top-``rerank_depth`` rows, their re-ranker features, hand scores, labels."""
    fusion = Fusion(reranker=None)
    features = retriever._features
    corpus = features.corpus
    answerable = [q for q in questions if q.answerable]
    qvecs = retriever.embedder.encode([Query.parse(q.question).text for q in answerable])
    out = []
    for q, qvec in zip(answerable, qvecs):
        query = Query.parse(q.question)
        c = fusion.candidates(features, query, qvec, 10)
        item = {"set": set_name, "fold": fold_of(q.doc), "question": query.text, "rows": np.zeros(0, int)}
        if len(c.rows):
            front, x = fusion.front(c, fusion.settings.rerank_depth)
            rows = c.rows[front]
            item.update(rows=rows, x=x, hand=fusion.score(c)[front].astype(np.float64),
                        y=np.array([correct(features, int(r), q) for r in rows]),
                        groups=[features.groups.get(int(r), (int(r),)) for r in rows],
                        texts=[corpus.documents[corpus.spans[r, 0]].text[corpus.spans[r, 1]:corpus.spans[r, 2]] for r in rows])
        out.append(item)
    return out


def ranks(item: dict, score: np.ndarray) -> int | None:
    """Rank (1-based) of the first answering sentence when the front is ordered by ``score``; identical sentences once."""
    if not len(item["rows"]):
        return None
    seen: set[int] = set()
    rank = 0
    for i in np.argsort(-score, kind="stable"):
        row = int(item["rows"][i])
        if row in seen:
            continue
        seen.update(item["groups"][i])
        rank += 1
        if item["y"][i]:
            return rank
        if rank == 10:
            return None
    return None


def figures(items: list[dict], scores: list[np.ndarray]) -> tuple[float, float, float]:
    rs = [ranks(it, s) for it, s in zip(items, scores)]
    mrr = float(np.mean([1.0 / r if r else 0.0 for r in rs]))
    return mrr, float(np.mean([bool(r) and r <= 1 for r in rs])), float(np.mean([bool(r) and r <= 3 for r in rs]))


def fuse(data: dict[str, list[dict]], pipeline: dict[str, tuple]) -> list[str]:
    for items in data.values():
        for it in items:
            if len(it["rows"]):
                it["mp_minmax"] = minmax(it["mp"])
    every = [it for items in data.values() for it in items if len(it["rows"])]

    def matrix(items, extra: int):
        x = np.vstack([it["x"] if not extra else np.column_stack([it["x"], it["mp"]] + ([it["mp_minmax"]] if extra == 2 else []))
                       for it in items])
        y = np.concatenate([it["y"] for it in items])
        n = {s: sum(1 for it in data[s]) for s in data}  # answerable questions per set
        w = np.concatenate([np.full(len(it["y"]), 1.0 / n[it["set"]]) for it in items])
        return x, y, w

    coefs: dict[int, list[np.ndarray]] = {1: [], 2: []}

    def learned(extra: int) -> dict[int, np.ndarray]:
        held = {}
        for f in range(FOLDS):
            x, y, w = matrix([it for it in every if it["fold"] != f], extra)
            mean, scale, coef, intercept = logistic(x, y, w)
            if extra:
                coefs[extra].append(coef[-extra:])
            for it in every:
                if it["fold"] == f:
                    xi, _, _ = matrix([it], extra)
                    held[id(it)] = ((xi - mean) / scale) @ coef + intercept
        return held

    def blend_mrr(items, w) -> float:
        return figures(items, [it["hand"] + w * it["mp_minmax"] if len(it["rows"]) else None for it in items])[0]

    chosen, blend = {}, {}
    for f in range(FOLDS):
        train = {s: [it for it in items if it["fold"] != f] for s, items in data.items()}
        chosen[f] = float(max(GRID, key=lambda w: (np.mean([blend_mrr(v, w) for v in train.values()]), -w)))
        for items in data.values():
            for it in items:
                if it["fold"] == f and len(it["rows"]):
                    blend[id(it)] = it["hand"] + chosen[f] * it["mp_minmax"]

    methods = {"hand weights (MiniLM), scored offline": lambda it: it["hand"],
               "mpnet cosine alone over the same candidates (nothing fitted)": lambda it: it["mp"]}
    lr = {0: learned(0), 1: learned(1), 2: learned(2)}
    methods[f"hand + w x mpnet cosine (min-max), w from training folds: {', '.join(f'{chosen[f]:.2f}' for f in range(FOLDS))}"] = \
        lambda it: blend[id(it)]
    methods["learned re-ranker, 23 features (fit_rerank.py's)"] = lambda it: lr[0][id(it)]
    methods["learned re-ranker, 23 + mpnet cosine"] = lambda it: lr[1][id(it)]
    methods["learned re-ranker, 23 + mpnet cosine + its min-max"] = lambda it: lr[2][id(it)]
    lines = ["### mpnet as a second dense signal over MiniLM's top 50 (held out, 5-fold CV by article)", "",
             "| ranking | news MRR@10 | news R@1 | news R@3 | squad-dev-a MRR@10 | squad-dev-a R@1 |", "|---" * 6 + "|"]
    if pipeline:
        (nm, n1, n3), (sm, s1, _) = pipeline["news"], pipeline["squad-dev-a"]
        lines.append(f"| hand weights (MiniLM), qa's pipeline (`evaluate`) | {nm:.3f} | {n1:.3f} | {n3:.3f} | {sm:.3f} | {s1:.3f} |")
    rank_lists = {}
    for label, fn in methods.items():
        cells = {s: figures(items, [fn(it) if len(it["rows"]) else None for it in items]) for s, items in data.items()}
        rank_lists[label] = {s: [(ranks(it, fn(it)) if len(it["rows"]) else None) or 11 for it in items] for s, items in data.items()}
        n, s = cells["news"], cells["squad-dev-a"]
        lines.append(f"| {label} | {n[0]:.3f} | {n[1]:.3f} | {n[2]:.3f} | {s[0]:.3f} | {s[1]:.3f} |")
    labels = list(methods)
    hand_label, lr_label = labels[0], labels[3]
    lines += ["", "Question by question (first answer's rank, 11 when not in the top 10): " + "; ".join(
        f"{lab.split(',')[0] if lab.startswith('hand +') else lab} against {ref.split(',')[0]}, {s}: "
        f"{versus(rank_lists[ref][s], rank_lists[lab][s])}"
        for lab, ref in ((labels[2], hand_label), (labels[4], lr_label), (labels[5], lr_label)) for s in data) + "."]
    reach = ", ".join(f"{s} {np.mean([bool(len(it['rows'])) and bool(it['y'].any()) for it in items]):.3f}"
                      for s, items in data.items())
    lines += ["", f"Answer among the candidates (the ceiling of any re-ordering): {reach}. Standardised coefficients "
              "of the mpnet inputs in the five fold models: 23 + cosine: " +
              ", ".join(f"{c[0]:+.2f}" for c in coefs[1]) + "; 23 + cosine + min-max: " +
              ", ".join(f"{c[0]:+.2f}/{c[1]:+.2f}" for c in coefs[2]) + "."]
    return lines + [""]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parts", nargs="*", help=f"what to measure: {', '.join(PARTS)} (default: all)")
    parser.add_argument("--model", required=True, help="local folder of sentence-transformers/all-mpnet-base-v2")
    parser.add_argument("--no-news-index", action="store_true", help="replace: skip building the 40k-sentence news index")
    args = parser.parse_args()
    parts = args.parts or list(PARTS)
    if set(parts) - set(PARTS):
        parser.error(f"unknown part(s) {', '.join(sorted(set(parts) - set(PARTS)))}; use {', '.join(PARTS)}")
    began = time.time()
    WORK.mkdir(parents=True, exist_ok=True)
    minilm = Embedder()
    mpnet = Embedder(model=args.model, cache_dir=WORK / "onnx-cache")
    folder = news_folder()
    news_q = read_questions(DATA / "news" / "questions.jsonl")
    squad_q = read_questions(DATA / "squad-dev-a" / "questions.jsonl")
    report = [f"`bench/mpnet.py {' '.join(sys.argv[1:])}` on {time.strftime('%Y-%m-%d %H:%M')}.", ""]
    if "cost" in parts:
        pool = sentences(folder)
        sample = random.Random(11).sample(pool, 500)
        report += cost({"all-MiniLM-L6-v2": minilm, "all-mpnet-base-v2": mpnet}, sample, [q.question for q in news_q[:100]])
        report.append(f"The news corpus has {len(pool)} sentences ({len(set(pool))} distinct, what a build encodes).")
        report.append("")
    if not {"replace", "fuse"} & set(parts):
        print("\n".join(report))
        return 0
    base = {"squad-dev-a": Retriever.from_directory(DATA / "squad-dev-a" / "docs", index_dir=WORK / "squad-dev-a",
                                                    embedder=minilm),
            "news": Retriever.from_directory(folder, index_dir=WORK / "news", embedder=minilm)}
    sets = {"squad-dev-a": squad_q, "news": news_q}
    pipeline = {}
    if "replace" in parts:
        by_mp, builds = {}, {}
        for name, docs in (("squad-dev-a", DATA / "squad-dev-a" / "docs"), ("news", folder)):
            if name == "news" and args.no_news_index:
                continue
            t = time.time()
            by_mp[name] = Retriever.from_directory(docs, index_dir=WORK / f"{name}-mpnet", embedder=mpnet, progress=True)
            if by_mp[name].last_update.embedded_sentences:
                builds[f"{name} ({by_mp[name].last_update.embedded_sentences} sentences)"] = time.time() - t
        report += replace({"all-MiniLM-L6-v2": base, "all-mpnet-base-v2": by_mp}, sets, builds)
    if "fuse" in parts:
        cache = Cache(mpnet)
        data = {}
        for name, retriever in base.items():
            items = candidates(retriever, sets[name], name)
            texts = sorted({t for it in items if len(it["rows"]) for t in it["texts"]})
            mp_path = WORK / f"{name}-mpnet"
            if mp_path.exists() and texts:  # a replacement index already holds these vectors
                store = Retriever(mp_path, embedder=mpnet).load()._features.store
                known, vectors = store.known_vectors(texts)
                for text, v in zip(np.array(texts)[known], vectors):
                    cache.vectors.setdefault(str(text), v.astype(np.float16))
            vec = dict(zip(texts, cache.get(texts))) if texts else {}
            qv = mpnet.encode([it["question"] for it in items])
            for it, q in zip(items, qv):
                if len(it["rows"]):
                    it["mp"] = np.array([vec[t] @ q for t in it["texts"]], dtype=np.float64)
            data[name] = items
            rep = evaluate(retriever, sets[name], "hybrid").as_dict()
            pipeline[name] = (rep["mrr@10"], rep["r@1"], rep["r@3"])
        report += fuse(data, pipeline)
    report.append(f"Run took {(time.time() - began) / 60:.1f} min.")
    print("\n".join(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
