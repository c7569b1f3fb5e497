"""Pseudo-relevance feedback (issue 11, point 2): does a second retrieval pass, fed by the
first pass's best sentences, rank the answer higher?  Measured held out, nothing adopted.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/query_prf.py            # writes the Markdown report to stdout
    HF_HUB_OFFLINE=1 .venv/bin/python bench/query_prf.py --out F    # ... and to F after every measurement

Levers (each a subclass of ``qa.ranking.Fusion``, set as ``retriever.fusion``, so the ordinary
``search_batch`` / ``evaluate`` / ``evaluate_conversations`` pipeline runs them, hybrid mode):

* Dense Rocchio: q' = normalize(q + beta * mean of the unit vectors of the top-m first-pass
  sentences), then the whole hybrid ranking again with q' (dense candidates and every cosine
  signal). First pass: the default hybrid ranking ("hybrid-first") or the dense top-m
  ("dense-first"). ``found`` keeps the product's evidence rule, computed with the *original*
  question vector on the new top hit (the threshold was set for question cosines).
  Grid: beta in {0.25, 0.5, 1.0} x m in {3, 5, 10}.
* RM3 on BM25: from the top-m sentences of the default hybrid ranking, terms (ids of qa's own
  tokenizer, so stemmed alike) weighted by sum_i tf(t, s_i) / |s_i| * w_i, w_i the first-pass
  hand score clipped at 0 and normalized to sum 1 (uniform if all are 0), the question's own
  tokens excluded; the top t terms, weights normalized to sum 1; the sentence BM25 vector
  becomes (1 - lam) * bm25(question) + lam * sum_t w_t * bm25(t), used both for the BM25
  candidates and the bm25 signal (document_bm25 and the word-share signals are unchanged).
  Grid: t in {5, 10} x lam in {0.2, 0.4} x m in {3, 10}.

Protocol: per-question reciprocal rank (MRR@10), hit@1, hit@3 on news (225 questions, news
retriever) and a fixed sample of 1,000 answerable squad-dev-a questions (seed 0; the full 5k
over 27 rankings does not fit the time on 2 shared cores), for the baseline ``Fusion()`` and
every grid value, in one run. 5-fold cross-validation by article (``fit_rerank.fold_of``): for
each fold f and each lever, the grid value with the best mean of (news MRR, squad MRR) over the
questions *not* in fold f is chosen, and fold f's questions are scored under it; held-out
figures aggregate the folds. News conversations (``evaluate_conversations``' own loop,
``ask_conversation``): each conversation under the value chosen without its first turn's
article's fold. Seed guard (22 questions on the news retriever): the value chosen on every
fold. Abstention (news) under the held-out choices. Latency: warm p50 over 200 news questions
one at a time, baseline and each lever's most-chosen value interleaved, real encoder, no caches.

Questions are encoded once and reused across rankings (a cache in front of the retriever's
question encoder), and a ranking's first pass is cached per (corpus, question text, filter);
both caches are off for the latency run.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field, replace

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np

from quality import DATA, OUT, news_retriever  # also puts the repository on sys.path
from fit_rerank import FOLDS, fold_of, using

from qa import Retriever  # noqa: E402
from qa.embedding import Embedder  # noqa: E402
from qa.evaluation import read_conversations, read_questions  # noqa: E402
from qa.evaluation.conversations import ask_conversation  # noqa: E402
from qa.evaluation.metrics import ask_all, rank_of_answer  # noqa: E402
from qa.ranking import Fusion  # noqa: E402
from qa.ranking.fusion import _quotable  # noqa: E402
from qa.ranking.lexical import tokenize  # noqa: E402

SQUAD_SAMPLE, SEED = 1000, 0
FIRST_DEPTH = 10  # first-pass rows kept (the deepest m of the grids)
CACHE = {"on": True}
_FIRST: dict = {}


# -- the levers --------------------------------------------------------------------------

@dataclass(frozen=True)
class Feedback(Fusion):
    """A Fusion with a first pass: the default hybrid ranking's (or the dense) top rows."""

    m: int = 5
    first: str = "hybrid"  # "hybrid" or "dense"

    def top(self, features, query, qvec) -> tuple[np.ndarray, np.ndarray]:
        """The first pass's best ``m`` rows (duplicates merged) and their scores, best first."""
        key = (id(features.corpus), query.text, repr(query.filter), self.first)
        hit = _FIRST.get(key) if CACHE["on"] else None
        if hit is None:
            if self.first == "dense":
                scores, ids = features.store.search(qvec[None, :], 4 * FIRST_DEPTH, query.filter)
                keep = ids[0] >= 0
                rows, scores = features.corpus.rows(ids[0][keep]), scores[0][keep]
                quotable = np.isin(rows, _quotable(features.corpus, rows))
                rows, scores = rows[quotable], scores[quotable]
                seen, picked = set(), []
                for i, r in enumerate(rows.tolist()):
                    if r not in seen:
                        seen.update(features.groups.get(r, (r,)))
                        picked.append(i)
                picked = picked[:FIRST_DEPTH]
                hit = (rows[picked].astype(np.int64), scores[picked].astype(np.float32))
            else:
                ranked = Fusion(self.weights, self.settings).rank(features, query, qvec, FIRST_DEPTH, "hybrid")
                hit = (np.array([r for r, _, _ in ranked.rows], dtype=np.int64),
                       np.array([s for _, s, _ in ranked.rows], dtype=np.float32))
            if CACHE["on"]:
                _FIRST[key] = hit
        return hit[0][:self.m], hit[1][:self.m]


@dataclass(frozen=True)
class Rocchio(Feedback):
    """Dense Rocchio: rank again with q' = normalize(q + beta * mean of the top-m unit vectors)."""

    beta: float = 0.5

    def rank(self, features, query, qvec, k, mode):
        if mode != "hybrid" or qvec is None:
            return super().rank(features, query, qvec, k, mode)
        rows, _ = self.top(features, query, qvec)
        if not len(rows):
            return super().rank(features, query, qvec, k, mode)
        vecs = features.store.vectors(features.corpus.ids[rows]).astype(np.float32)
        vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-9)
        q2 = qvec + self.beta * vecs.mean(axis=0)
        q2 = (q2 / max(float(np.linalg.norm(q2)), 1e-9)).astype(np.float32)
        ranked = super().rank(features, query, q2, k, mode)
        if not ranked.rows:
            return ranked
        # found: the evidence rule on the new top hit, with the question's own vector.
        confidence = self.evidence(features, query, qvec, ranked.rows[0][0])
        return replace(ranked, found=confidence >= self.settings.threshold, confidence=confidence)


@dataclass(frozen=True)
class RM3(Feedback):
    """RM3 on the sentence BM25: the question's BM25 mixed with that of the first pass's best terms."""

    terms: int = 10
    lam: float = 0.2
    _expansion: dict = field(default_factory=dict, compare=False, repr=False)

    def expansion(self, features, query, rows, scores) -> list[tuple[int, float]]:
        lexical = features.lexical
        own = set(query.ids(lexical))
        w = np.maximum(scores.astype(np.float64), 0.0)
        w = w / w.sum() if w.sum() > 0 else np.full(len(rows), 1.0 / max(len(rows), 1))
        weight: Counter = Counter()
        for row, wi in zip(rows.tolist(), w):
            ids = lexical.ids(tokenize(features.corpus.sentence_text(row)))
            if not ids:
                continue
            for t, tf in Counter(ids).items():
                if t not in own:
                    weight[t] += tf / len(ids) * wi
        best = [(t, v) for t, v in weight.most_common(self.terms) if v > 0]
        total = sum(v for _, v in best)
        return [(t, v / total) for t, v in best] if total > 0 else []

    def rank(self, features, query, qvec, k, mode):
        if mode != "hybrid" or qvec is None:
            return super().rank(features, query, qvec, k, mode)
        rows, scores = self.top(features, query, qvec)
        self._expansion[id(query)] = self.expansion(features, query, rows, scores)
        try:
            return super().rank(features, query, qvec, k, mode)
        finally:
            self._expansion.pop(id(query), None)

    def _bm25(self, features, query, admitted):
        bm = Fusion._bm25(features, query, admitted)
        terms = self._expansion.get(id(query))
        if not terms:
            return bm
        lexical = features.lexical
        extra = np.zeros(lexical.size, dtype=np.float64)
        for t, wt in terms:
            extra += wt * lexical.scores([t])
        out = (1 - self.lam) * bm + self.lam * extra
        if admitted is not None:
            out = np.where(admitted, out, 0.0)
        return out.astype(np.float32)


def grid() -> dict[str, dict[str, Fusion]]:
    """Every lever's grid values, by label."""
    roc = {f"beta={b} m={m}": (b, m) for b in (0.25, 0.5, 1.0) for m in (3, 5, 10)}
    return {
        "Rocchio, hybrid first pass": {k: Rocchio(beta=b, m=m, first="hybrid") for k, (b, m) in roc.items()},
        "RM3": {f"t={t} lam={lam} m={m}": RM3(terms=t, lam=lam, m=m) for t in (5, 10) for lam in (0.2, 0.4) for m in (3, 10)},
        "Rocchio, dense first pass": {k: Rocchio(beta=b, m=m, first="dense") for k, (b, m) in roc.items()},
    }


# -- measuring ---------------------------------------------------------------------------

class CachedEncoder:
    """In front of a retriever's question encoder: each distinct text is encoded once."""

    def __init__(self, inner, memo: dict):
        self.inner, self.memo = inner, memo

    def encode(self, texts):
        todo = [t for t in dict.fromkeys(texts) if t not in self.memo]
        if todo:
            for t, v in zip(todo, self.inner.encode(todo)):
                self.memo[t] = v
        return np.stack([self.memo[t] for t in texts])


@dataclass
class Per:
    """Per-question outcome of one ranking on one set: answer rank (0 = not in the top 10), found."""

    rank: np.ndarray
    found: np.ndarray


def per_question(questions, results) -> Per:
    return Per(np.array([(rank_of_answer(r, q) or 0) if q.answerable else 0 for q, r in zip(questions, results)]),
               np.array([r.found for r in results]))


def measure(sets, talks, seeds, news, fusion) -> dict[str, Per]:
    out = {name: per_question(qs, using(r, fusion, lambda: ask_all(r, qs))) for name, (r, qs) in sets.items()}
    cq, cr = [], []
    for t in talks:
        turns = using(news, fusion, lambda: ask_conversation(news, t))
        cq += list(t.turns)
        cr += [turn.result for turn in turns]
    out["conversations"] = per_question(cq, cr)
    out["seed"] = per_question(seeds, using(news, fusion, lambda: ask_all(news, seeds)))
    return out


def figures(rank: np.ndarray, answerable: np.ndarray) -> tuple[float, float, float]:
    r = rank[answerable]
    rr = np.where(r > 0, 1.0 / np.maximum(r, 1), 0.0)
    return float(rr.mean()), float(((r > 0) & (r <= 1)).mean()), float(((r > 0) & (r <= 3)).mean())


def difference(base: np.ndarray, lever: np.ndarray, answerable: np.ndarray, name: str) -> str:
    """Paired comparison of two rankings' per-question reciprocal ranks on one set."""
    def rr(rank):
        r = rank[answerable]
        return np.where(r > 0, 1.0 / np.maximum(r, 1), 0.0)
    d = rr(lever) - rr(base)
    rng = np.random.default_rng(SEED)
    boot = d[rng.integers(0, len(d), size=(2000, len(d)))].mean(axis=1)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return f"{name} {int((d > 0).sum())} up / {int((d < 0).sum())} down, MRR {d.mean():+.3f} [{lo:+.3f}, {hi:+.3f}]"


def abstention(per: Per, answerable: np.ndarray) -> tuple[float, float]:
    return float((~per.found[~answerable]).mean()), float((~per.found[answerable]).mean())


# -- the report --------------------------------------------------------------------------

def held_out(runs, lever_values, info):
    """Per fold the value best on the other folds (mean of news and squad MRR); fold f scored under it."""
    chosen = {}
    for f in range(FOLDS):
        def train(label):
            return np.mean([figures(runs[label][s].rank, info[s]["answerable"] & (info[s]["fold"] != f))[0]
                            for s in ("news", "squad")])
        chosen[f] = max(lever_values, key=train)
    every = max(lever_values, key=lambda label: np.mean([figures(runs[label][s].rank, info[s]["answerable"])[0]
                                                         for s in ("news", "squad")]))
    out = {}
    for s in ("news", "squad", "conversations"):
        fold = info[s]["fold"]
        rank = np.zeros(len(fold), dtype=int)
        found = np.zeros(len(fold), dtype=bool)
        for f in range(FOLDS):
            at = fold == f
            rank[at], found[at] = runs[chosen[f]][s].rank[at], runs[chosen[f]][s].found[at]
        out[s] = Per(rank, found)
    out["seed"] = runs[every]["seed"]
    return out, chosen, every


def report(runs, info, started, latency_lines=(), done=False) -> str:
    base = runs.get("baseline")
    lines = ["## Pseudo-relevance feedback (issue 11, point 2)", "",
             f"`.venv/bin/python bench/query_prf.py` on {time.strftime('%Y-%m-%d')} "
             f"({'complete' if done else 'partial: run still going'}, {time.time() - started:.0f} s so far). "
             f"Sets: news {info['news']['n']} questions ({(~info['news']['answerable']).sum()} unanswerable); "
             f"squad-dev-a: a fixed random sample of {info['squad']['n']} answerable questions (seed {SEED}) of "
             f"{info['squad']['total']}; news conversations {info['conversations']['n']} turns; seed guard "
             f"{info['seed']['n']} questions. Fitted (chosen) on: news + squad MRR@10, 5-fold CV by article "
             "(`fit_rerank.fold_of`); the table's lever rows are held out; seed: the value chosen on every fold.", ""]
    if base is None:
        return "\n".join(lines)
    head = ("| ranking | news MRR | news R@1 | news R@3 | squad MRR | squad R@1 | squad R@3 | conv MRR | conv R@1 | "
            "conv R@3 | seed R@1 | seed R@3 | news abstain | news false abstain |")
    table = [head, "|---" * (head.count("|") - 1) + "|"]

    def cells(label, per):
        c = []
        for s in ("news", "squad", "conversations", "seed"):
            mrr, r1, r3 = figures(per[s].rank, info[s]["answerable"])
            c += [mrr, r1, r3] if s != "seed" else [r1, r3]
        c += list(abstention(per["news"], info["news"]["answerable"]))
        return f"| {label} | " + " | ".join(f"{x:.3f}" for x in c) + " |"

    table.append(cells("baseline `Fusion()`", base))
    choices, paired = [], []
    for lever, values in grid().items():
        have = [v for v in values if f"{lever}: {v}" in runs]
        if not have:
            continue
        per, chosen, every = held_out(runs, [f"{lever}: {v}" for v in have], info)
        partial = "" if len(have) == len(values) else f" (grid so far: {len(have)} of {len(values)})"
        table.append(cells(f"{lever}, held out{partial}", per))
        paired.append(f"- {lever}{partial}: " + "; ".join(difference(base[s].rank, per[s].rank, info[s]["answerable"], s)
                                                       for s in ("news", "squad", "conversations")) + ".")
        choices.append(f"- {lever}{partial}: chosen per fold " +
                       ", ".join(f"{f}: {chosen[f].split(': ', 1)[1]}" for f in range(FOLDS)) +
                       f"; on every fold (seed row): {every.split(': ', 1)[1]}.")
    lines += ["### Held out (baseline beside each lever)", ""] + table + [""] + choices + [""]
    lines += ["Held out against the baseline, per question (answerable only): questions whose reciprocal rank "
              "went up / down, and the MRR@10 difference with a paired bootstrap 95% interval (2,000 resamples, "
              f"seed {SEED}):", ""] + paired + [""]
    lines += ["### Every grid value, full sets (in-sample)", "",
              "| ranking | news MRR | news R@1 | news R@3 | squad MRR | squad R@1 | squad R@3 | conv MRR | conv R@1 | "
              "conv R@3 | seed R@1 | seed R@3 | news abstain | news false abstain |", "|---" * 14 + "|"]
    lines += [cells(label, per) for label, per in runs.items()] + [""]
    lines += list(latency_lines)
    return "\n".join(lines)


def latency(news: Retriever, questions, fusions: dict[str, Fusion], n: int = 200) -> list[str]:
    """Warm one-at-a-time p50/p95 (ms), rankings interleaved, real encoder, first-pass cache off."""
    sample = [q.question for q in questions[:n]]
    times = {label: [] for label in fusions}
    CACHE["on"] = False
    default = news.fusion
    try:
        news.search(sample[0])
        for q in sample:
            for label, fusion in fusions.items():
                news.fusion = fusion
                t = time.perf_counter()
                news.search(q, k=5)
                times[label].append((time.perf_counter() - t) * 1000)
    finally:
        news.fusion = default
        CACHE["on"] = True
    out = ["### Query latency (warm, news, one question at a time, interleaved, same run)", "",
           "| ranking | p50 ms | p95 ms |", "|---|---|---|"]
    for label, v in times.items():
        out.append(f"| {label} | {statistics.median(v):.1f} | {sorted(v)[int(0.95 * len(v))]:.1f} |")
    return out + ["", f"{n} news questions, k=5, question encoding included (not cached).", ""]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="also (re)write the report here after every measurement")
    parser.add_argument("--only", help="comma-separated lever names to run (default: all)")
    args = parser.parse_args()
    started = time.time()
    embedder = Embedder()
    news = news_retriever(embedder)
    squad = Retriever.from_directory(DATA / "squad-dev-a" / "docs", index_dir=OUT / "index-squad", embedder=embedder)
    memo: dict = {}
    encoders = {}
    for r in (news, squad):
        encoders[id(r)] = r._questions
        r._questions = CachedEncoder(r._questions, memo)

    news_q = read_questions(DATA / "news" / "questions.jsonl")
    squad_all = read_questions(DATA / "squad-dev-a" / "questions.jsonl")
    squad_q = sorted(random.Random(SEED).sample([q for q in squad_all if q.answerable], SQUAD_SAMPLE), key=lambda q: q.id)
    talks = read_conversations(DATA / "news" / "conversations.jsonl")
    seeds = read_questions(DATA / "seed" / "questions.jsonl")
    sets = {"news": (news, news_q), "squad": (squad, squad_q)}
    turns = [q for t in talks for q in t.turns]
    info = {"news": {"answerable": np.array([q.answerable for q in news_q]), "fold": np.array([fold_of(q.doc) for q in news_q]),
                     "n": len(news_q)},
            "squad": {"answerable": np.array([q.answerable for q in squad_q]), "fold": np.array([fold_of(q.doc) for q in squad_q]),
                      "n": len(squad_q), "total": len(squad_all)},
            "conversations": {"answerable": np.array([q.answerable for q in turns]),
                              "fold": np.array([fold_of(t.turns[0].doc) for t in talks for _ in t.turns]), "n": len(turns)},
            "seed": {"answerable": np.array([q.answerable for q in seeds]), "n": len(seeds)}}

    def write(text):
        if args.out:
            with open(args.out, "w", encoding="utf-8") as f:
                f.write(text + "\n")

    runs: dict[str, dict[str, Per]] = {}
    runs["baseline"] = measure(sets, talks, seeds, news, Fusion())
    print(f"baseline ({time.time() - started:.0f} s)", file=sys.stderr)
    write(report(runs, info, started))
    levers = grid()
    wanted = [s.strip() for s in args.only.split(",")] if args.only else list(levers)
    for lever in wanted:
        for value, fusion in levers[lever].items():
            runs[f"{lever}: {value}"] = measure(sets, talks, seeds, news, fusion)
            print(f"{lever}: {value} ({time.time() - started:.0f} s)", file=sys.stderr)
            write(report(runs, info, started))

    # Latency: baseline and each lever's most-chosen value, real encoder.
    for r in (news, squad):
        r._questions = encoders[id(r)]
    fusions = {"baseline `Fusion()`": Fusion()}
    for lever in wanted:
        labels = [f"{lever}: {v}" for v in levers[lever]]
        _, chosen, _ = held_out(runs, labels, info)
        value = Counter(chosen.values()).most_common(1)[0][0].split(": ", 1)[1]
        fusions[f"{lever}, {value}"] = levers[lever][value]
    lat = latency(news, news_q, fusions)
    text = report(runs, info, started, lat, done=True)
    write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
