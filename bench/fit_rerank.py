"""Fit the learned ranking models of qa/ranking/ with cross-validation by article, and measure them held out.

    .venv/bin/python bench/fit_rerank.py                      # held-out figures, then the models fitted on all, written
    .venv/bin/python bench/fit_rerank.py --no-write           # the figures only
    .venv/bin/python bench/fit_rerank.py --save-rows DIR      # ... keeping the calibrators' training rows

Two models, shipped for ``Fusion.learned()`` (opt-in): the re-ranker (rerank.json) and the
``found`` calibrator over its ranking (found.json). A calibrator over the default
hand-weighted ranking is fitted and measured the same way, and not written (not adopted).

Every article falls in one of ``FOLDS`` folds by a hash of its path, so a question, the other
questions on its article and any conversation or SQuAD 2.0 question on it share a fold. For
each fold the models are fitted on the other folds' questions and every question of the fold
is then asked through the real pipeline (``Retriever.search_batch``): the figures printed are
those held-out answers, beside the evidence rule's (nothing fitted) in the same run. The
news conversations are asked with the models of their article's fold; the seed questions
(whose article no set trains on) with the models fitted on everything, which are the ones
written.

Re-ranker rows: each candidate of the hand score's top ``Settings.rerank_depth`` on
squad-dev-a and the news questions, its ``qa.ranking.rerank.FEATURES`` and whether it (or a
sentence of the same text) overlaps an answer. Calibrator rows: each question of
squad-dev-a, news and squad2-normans (the last two hold unanswerable questions), its
``qa.ranking.calibration.FEATURES`` under the ranking (the re-ranker of its own fold, so out
of fold) and whether its first quote answers. Each set weighs the same in every fit (its
rows weighted by the inverse of its size): squad-dev-a has 24 times as many questions as
news, and news is the kind of question these models are for. The found threshold is the
highest probability that keeps the training folds' false abstentions (sets weighted alike) at
``calibration.TARGET_FALSE_ABSTAIN``.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time

import numpy as np

import verdicts
from quality import DATA, OUT, ROOT, news_retriever  # also puts the repository on sys.path

from qa import Retriever  # noqa: E402
from qa.embedding import Embedder  # noqa: E402
from qa.evaluation import evaluate_conversations, read_conversations, read_questions, score  # noqa: E402
from qa.evaluation.metrics import ask_all  # noqa: E402
from qa.ranking import Fusion, Query  # noqa: E402
from qa.ranking import calibration  # noqa: E402
from qa.ranking.calibration import Calibrator  # noqa: E402
from qa.ranking.rerank import FEATURES, MODEL_FILE, Reranker  # noqa: E402

FOLDS = 5
C = 1.0  # scikit-learn's default inverse regularisation; the features are standardised first


def fold_of(doc: str) -> int:
    return int(hashlib.sha256(doc.encode()).hexdigest(), 16) % FOLDS


def places(features, row: int) -> list[tuple[str, int, int]]:
    corpus = features.corpus
    out = []
    for r in features.groups.get(row, (row,)):
        d, start, end = corpus.spans[r, 0], corpus.spans[r, 1], corpus.spans[r, 2]
        out.append((corpus.documents[d].path, int(start), int(end)))
    return out


def correct(features, row: int, q) -> bool:
    wanted = [(q.doc, a, b) for a, b in q.answers] + list(q.elsewhere)
    return any(doc == wd and s < we and ws < e for doc, s, e in places(features, row) for wd, ws, we in wanted)


def collect(retriever: Retriever, questions, set_name: str) -> dict:
    """Training rows of every answerable question: features, labels, question number, fold."""
    fusion = Fusion(reranker=None)
    features = retriever._features
    depth = fusion.settings.rerank_depth
    xs, ys, qid, folds, reach = [], [], [], [], 0
    answerable = [q for q in questions if q.answerable]
    qvecs = retriever.embedder.encode([Query.parse(q.question).text for q in answerable])
    for n, (q, qvec) in enumerate(zip(answerable, qvecs)):
        c = fusion.candidates(features, Query.parse(q.question), qvec, 10)
        if not len(c.rows):
            continue
        front, x = fusion.front(c, depth)
        y = np.array([correct(features, int(r), q) for r in c.rows[front]])
        reach += bool(y.any())
        xs.append(x)
        ys.append(y)
        qid.append(np.full(len(y), n))
        folds.append(np.full(len(y), fold_of(q.doc)))
    return {"x": np.vstack(xs), "y": np.concatenate(ys), "q": np.concatenate(qid), "fold": np.concatenate(folds),
            "weight": np.full(sum(len(y) for y in ys), 1.0 / len(answerable)), "reach": reach / len(answerable),
            "name": set_name}


def logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Standardise the columns, fit a weighted logistic regression: (mean, scale, coef, intercept)."""
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=C, max_iter=2000).fit((x - mean) / scale, y, sample_weight=w / w.mean())
    return mean, scale, model.coef_[0], float(model.intercept_[0])


def fit(x: np.ndarray, y: np.ndarray, w: np.ndarray, fitted_on: str) -> Reranker:
    return Reranker.of(*logistic(x, y, w), fitted_on)


def evidence(retriever: Retriever, questions, fusion_of, set_name: str) -> dict:
    """The calibrator's inputs for every question (ranked by ``fusion_of(fold)``) and whether the first quote answers."""
    features = retriever._features
    qvecs = retriever.embedder.encode([Query.parse(q.question).text for q in questions])
    xs, ys, folds, answerable = [], [], [], []
    for q, qvec in zip(questions, qvecs):
        f = fold_of(q.doc)
        ranked = fusion_of(f).rank(features, Query.parse(q.question), qvec, 10, "hybrid")
        if ranked.evidence is None:
            continue
        xs.append(ranked.evidence)
        ys.append(q.answerable and bool(ranked.rows) and correct(features, ranked.rows[0][0], q))
        folds.append(f)
        answerable.append(q.answerable)
    n = len(ys)
    return {"x": np.vstack(xs), "y": np.array(ys), "fold": np.array(folds), "answerable": np.array(answerable),
            "weight": np.full(n, 1.0 / n), "name": set_name}


def fit_calibrator(x, y, w, answerable, fitted_on: str) -> Calibrator:
    """Logistic model of "the first quote answers"; threshold at ``TARGET_FALSE_ABSTAIN`` on these rows."""
    mean, scale, coef, intercept = logistic(x, y, w)
    cal = Calibrator.of(mean, scale, coef, intercept, 0.5, fitted_on)
    p = cal.probability(x)
    # The highest threshold whose (set-weighted) share of answerable questions below it stays at the target.
    pa, wa = p[answerable], w[answerable]
    order = np.argsort(pa)
    below = np.cumsum(wa[order]) / wa.sum()
    allowed = np.flatnonzero(below <= calibration.TARGET_FALSE_ABSTAIN)
    threshold = float(pa[order][allowed[-1] + 1]) if len(allowed) and allowed[-1] + 1 < len(order) else float(pa.min())
    return Calibrator.of(mean, scale, coef, intercept, threshold, fitted_on)


def reliability(probabilities: np.ndarray, outcomes: np.ndarray, weights: np.ndarray, bins: int = 5) -> str:
    """Held-out calibration: mean predicted vs observed per probability bin, Brier score.

    Weighted as the fit is (each set the same), since that is the mixture it is calibrated to.
    """
    edges = np.linspace(0, 1, bins + 1)
    cells = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (probabilities >= lo) & ((probabilities < hi) | (hi == 1.0))
        if inside.any():
            w = weights[inside]
            cells.append(f"{lo:.1f}-{hi:.1f}: {np.average(probabilities[inside], weights=w):.2f} predicted / "
                         f"{np.average(outcomes[inside], weights=w):.2f} observed (n={int(inside.sum())})")
    brier = float(np.average((probabilities - outcomes) ** 2, weights=weights))
    return "; ".join(cells) + f"; Brier {brier:.3f}"


def held_out(retriever: Retriever, questions, fusion_of):
    """Each question asked with ``fusion_of(fold of its article)``; results in the questions' order."""
    results = [None] * len(questions)
    for f in range(FOLDS):
        picked = [i for i, q in enumerate(questions) if fold_of(q.doc) == f]
        for i, r in zip(picked, using(retriever, fusion_of(f), lambda: ask_all(retriever, [questions[i] for i in picked]))):
            results[i] = r
    return results


def line(label: str, rep) -> str:
    r = rep.as_dict()
    cells = [r["mrr@10"], r["r@1"], r["r@3"], r["r@5"], r["r@10"], r["abstain_recall"] or 0.0, r["false_abstain"] or 0.0]
    return f"| {label} | " + " | ".join(f"{c:.3f}" for c in cells) + " |"


def using(retriever: Retriever, fusion: Fusion, run):
    """``run()`` with ``retriever`` ranking by ``fusion``, its own fusion restored after."""
    default = retriever.fusion
    retriever.fusion = fusion
    try:
        return run()
    finally:
        retriever.fusion = default


def conversations_held_out(news: Retriever, talks, fusion_of, later_only: bool):
    """Every turn asked with ``fusion_of(fold of the conversation's article)``."""
    from qa.evaluation.conversations import ask_conversation

    questions, results = [], []
    for t in talks:
        turns = using(news, fusion_of(fold_of(t.turns[0].doc)), lambda: ask_conversation(news, t))
        for i, (q, turn) in enumerate(zip(t.turns, turns)):
            if not (later_only and i == 0):
                questions.append(q)
                results.append(turn.result)
    return score(questions, results, "hybrid")


def discrimination(ev: dict, per_fold: dict[int, Calibrator], evidence_coverage: float) -> str:
    """Per set, held out: AUC of "the first quote answers" for the calibrator's probability and for the
    evidence score (cosine + ``evidence_coverage`` x word share), and the probability's Brier score
    beside that of the set's own base rate."""
    from sklearn.metrics import roc_auc_score

    cos, cov = calibration.FEATURES.index("cosine"), calibration.FEATURES.index("coverage")
    cells = []
    for name, d in ev.items():
        p = np.zeros(len(d["y"]))
        for f in range(FOLDS):
            p[d["fold"] == f] = per_fold[f].probability(d["x"][d["fold"] == f])
        y = d["y"].astype(float)
        score = d["x"][:, cos] + evidence_coverage * d["x"][:, cov]
        cells.append(f"{name} AUC {roc_auc_score(y, p):.2f} (evidence score {roc_auc_score(y, score):.2f}), "
                     f"Brier {np.mean((p - y) ** 2):.3f} (base rate {y.mean():.2f}: {np.mean((y.mean() - y) ** 2):.3f})")
    return "; ".join(cells)


def calibrators_for(ev: dict, note: str) -> tuple[dict[int, Calibrator], Calibrator, np.ndarray, np.ndarray]:
    """Per-fold calibrators, the one fitted on all, and the held-out probabilities with their outcomes."""
    x, y, w, fold, ans = (np.concatenate([d[k] for d in ev.values()]) for k in ("x", "y", "weight", "fold", "answerable"))
    per_fold = {f: fit_calibrator(x[fold != f], y[fold != f], w[fold != f], ans[fold != f], f"folds other than {f}")
                for f in range(FOLDS)}
    final = fit_calibrator(x, y, w, ans, note)
    p = np.concatenate([per_fold[f].probability(x[fold == f]) for f in range(FOLDS)])
    held = (np.concatenate([y[fold == f] for f in range(FOLDS)]).astype(float), np.concatenate([w[fold == f] for f in range(FOLDS)]))
    return per_fold, final, p, held


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print the figures, leave the packaged models as they are")
    parser.add_argument("--save-rows", help="also keep the training rows here (an .npz per stage) for other fits")
    args = parser.parse_args()
    began = time.time()
    embedder = Embedder()
    squad = Retriever.from_directory(DATA / "squad-dev-a" / "docs", index_dir=OUT / "index-squad", embedder=embedder)
    news = news_retriever(embedder)
    normans = read_questions(DATA / "squad2-normans" / "questions.jsonl")
    sets = {"squad-dev-a": (squad, read_questions(DATA / "squad-dev-a" / "questions.jsonl")),
            "news": (news, read_questions(DATA / "news" / "questions.jsonl"))}

    # 1. The re-ranker: rows of the hand top 50 of squad-dev-a and news.
    rows = {name: collect(r, qs, name) for name, (r, qs) in sets.items()}
    x, y, w, fold = (np.concatenate([d[k] for d in rows.values()]) for k in ("x", "y", "weight", "fold"))
    models = {f: fit(x[fold != f], y[fold != f], w[fold != f], f"folds other than {f}") for f in range(FOLDS)}
    final = fit(x, y, w, "squad-dev-a + news questions, every fold (bench/fit_rerank.py)")
    print(f"re-ranker fitted ({time.time() - began:.0f} s)", file=sys.stderr)

    # 2. The calibrators, one per ranking: each question's best candidate ranked by the hand
    #    weights, and by its fold's re-ranker (out of fold), on squad-dev-a, news and squad2-normans.
    ev_sets = {**sets, "squad2-normans": (squad, normans)}
    hand = Fusion(reranker=None, calibrator=None)
    ev_hand = {n: evidence(r, qs, lambda f: Fusion(explain=True), n) for n, (r, qs) in ev_sets.items()}
    ev_learned = {n: evidence(r, qs, lambda f: Fusion(reranker=models[f], explain=True), n)
                  for n, (r, qs) in ev_sets.items()}
    if args.save_rows:
        for stage, ev in (("hand", ev_hand), ("learned", ev_learned)):
            np.savez(f"{args.save_rows}/evidence-{stage}.npz", **{f"{n}.{k}": v for n, d in ev.items()
                                                                  for k, v in d.items() if k != "name"})
    cal_hand, final_hand, p_hand, y_hand = calibrators_for(
        ev_hand, "squad-dev-a + news + squad2-normans, every fold, over the hand ranking (bench/fit_rerank.py)")
    cal_learned, final_learned, p_learned, y_learned = calibrators_for(
        ev_learned, "squad-dev-a + news + squad2-normans, every fold, over the out-of-fold re-ranker (bench/fit_rerank.py)")
    print(f"calibrators fitted ({time.time() - began:.0f} s)", file=sys.stderr)

    # 3. Every set asked through the real pipeline: the evidence rule, the calibrated default
    #    and the learned re-ranker, each held out.
    rankings = {"hand weights, evidence rule (before)": lambda f: hand,
                "hand weights, calibrated found (not adopted)": lambda f: Fusion(reranker=None, calibrator=cal_hand[f]),
                "learned re-ranker, calibrated found (`Fusion.learned()`)": lambda f: Fusion(reranker=models[f],
                                                                                           calibrator=cal_learned[f])}
    finals = {"hand weights, evidence rule (before)": hand,
              "hand weights, calibrated found (not adopted)": Fusion(reranker=None, calibrator=final_hand),
              "learned re-ranker, calibrated found (`Fusion.learned()`)": Fusion(reranker=final, calibrator=final_learned)}
    report = [f"`.venv/bin/python bench/fit_rerank.py` on {time.strftime('%Y-%m-%d')}: {FOLDS}-fold cross-validation "
              "by article; fitted figures are the held-out folds' (seeds: the models fitted on all, no seed "
              "question trains them).", "",
              "| set | ranking | MRR@10 | R@1 | R@3 | R@5 | R@10 | abstain | false abstain |", "|---" * 9 + "|"]
    verdict_table = list(verdicts.HEAD)
    for name, (r, qs) in ev_sets.items():
        for label, fusion_of in rankings.items():
            results = held_out(r, qs, fusion_of)
            report.append(line(f"{name} | {label}", score(qs, results, "hybrid")))
            verdict_table += verdicts.rows(label, name, verdicts.tally(qs, results, lambda q: fusion_of(fold_of(q.doc))))
    seeds = read_questions(DATA / "seed" / "questions.jsonl")
    for label, fusion in finals.items():
        report.append(line(f"seed questions among all BBC | {label}",
                           using(news, fusion, lambda: score(seeds, ask_all(news, seeds), "hybrid"))))
    talks = read_conversations(DATA / "news" / "conversations.jsonl")
    for later, which in ((False, "every turn"), (True, "turns 2-3")):
        for label, fusion_of in rankings.items():
            report.append(line(f"news conversations, {which} | {label}",
                               conversations_held_out(news, talks, fusion_of, later)))

    def listed(names, coef):
        return ", ".join(f"{n} {c:+.2f}" for n, c in sorted(zip(names, coef), key=lambda t: -abs(t[1])))
    report += ["", f"Re-ranker fitted on all (standardised features), largest first: {listed(FEATURES, final.coef)}.", ""]
    for label, cal, folds, p, yy in (("hand ranking", final_hand, cal_hand, p_hand, y_hand),
                                     ("re-ranked", final_learned, cal_learned, p_learned, y_learned)):
        report += [f"Calibrator over the {label}, fitted on all: {listed(calibration.FEATURES, cal.coef)}; threshold "
                   f"{cal.threshold:.3f} (folds: " + ", ".join(f"{folds[f].threshold:.3f}" for f in range(FOLDS)) +
                   "). Held-out calibration of `confidence` (probability that the first quote answers), the three "
                   f"sets weighted alike: {reliability(p, *yy)}. Per set: "
                   f"{discrimination(ev_hand if label == 'hand ranking' else ev_learned, folds, hand.settings.evidence_coverage)}.", ""]
    report += [f"Hand top-{hand.settings.rerank_depth} reach (the answer among the candidates re-ranked): " +
               ", ".join(f"{d['name']} {d['reach']:.3f}" for d in rows.values()) + f". Run took {time.time() - began:.0f} s."]
    report += ["", "The chat's verdict on each held-out answer (bench/verdicts.py): how often its first quote answers.", "",
               *verdict_table]
    print("\n".join(report))
    if not args.no_write:
        final.save(ROOT / "qa" / "ranking" / MODEL_FILE)
        final_learned.save(ROOT / "qa" / "ranking" / calibration.MODEL_FILE)
        print(f"wrote qa/ranking/{MODEL_FILE} and {calibration.MODEL_FILE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
