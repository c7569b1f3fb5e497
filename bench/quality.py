"""Retrieval quality in one run: SQuAD sentence retrieval, seed questions among BBC
distractors, abstention on SQuAD halves, and the latency cost of the ranking.

    .venv/bin/python bench/quality.py                     # prints a Markdown report
    .venv/bin/python bench/quality.py squad latency       # only some parts

Needs ../shared/data (skips cleanly without it). Indexes are kept in bench/out/ so a second
run embeds nothing. The "plain blend" baseline is 0.7 dense + 0.3 BM25 (k1=0.9, b=0.4),
min-max normalized over the same candidates: the reference figure in shared/data/README.md.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
OUT = ROOT / "bench" / "out"

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from qa import Retriever  # noqa: E402
from qa.embedding import Embedder  # noqa: E402
from qa.evaluation import Question, evaluate, evaluate_conversations, read_conversations, read_questions, score  # noqa: E402
from qa.ranking import Fusion, Weights  # noqa: E402

BLEND = Fusion(Weights(dense=0.7, bm25=0.3, paragraph_dense=0.0, document_bm25=0.0, local_coverage=0.0,
                       local_paragraph_coverage=0.0, question_sentence=0.0, answer_type=0.0, phrase=0.0))
COSINE_ONLY = "cosine-only found"


def linked_folder(name: str, links: dict[str, Path]) -> Path:
    """A folder of symbolic links (nothing copied), rebuilt each run."""
    folder = OUT / name
    folder.mkdir(parents=True, exist_ok=True)
    for child in folder.iterdir():
        child.unlink()
    for link, target in links.items():
        (folder / link).symlink_to(target)
    return folder


def row(label: str, r: dict, abstain: bool = False) -> str:
    cells = [r["mrr@10"], r["r@1"], r["r@3"], r["r@5"], r["r@10"]]
    if abstain:
        cells += [r["abstain_recall"] or 0.0, r["false_abstain"] or 0.0]
    return f"| {label} | " + " | ".join(f"{c:.3f}" for c in cells) + " |"


def table(title: str, retriever: Retriever, questions, run=evaluate) -> list[str]:
    """One row per mode (and the plain blend); abstention columns when some questions cannot be answered."""
    reports = {}
    default = retriever.fusion
    for label, mode, fusion in (("bm25", "bm25", default), ("dense", "dense", default),
                                ("plain blend 0.7/0.3", "hybrid", BLEND), ("**hybrid (qa)**", "hybrid", default),
                                ("hybrid, learned (`--learned`; in-sample on squad and news)", "hybrid", Fusion.learned())):
        retriever.fusion = fusion
        try:
            reports[label] = run(retriever, questions, mode).as_dict()
        finally:
            retriever.fusion = default
    abstain = any(r["unanswerable"] for r in reports.values())
    head = "| method | MRR@10 | R@1 | R@3 | R@5 | R@10 |" + (" abstain | false abstain |" if abstain else "")
    lines = [f"### {title}", "", head, "|---" * (head.count("|") - 1) + "|"]
    lines += [row(label, r, abstain) for label, r in reports.items()]
    return lines + [""]


def latency(retriever: Retriever, questions: list[Question], n: int = 300) -> list[str]:
    """Warm one-at-a-time query latency of the plain blend and of qa's ranking, interleaved."""
    sample = [q.question for q in questions[:n]]
    times = {"plain blend": [], "hybrid (qa)": [], "hybrid, learned": []}
    default, learned = retriever.fusion, Fusion.learned()
    retriever.search(sample[0])
    for q in sample:
        for label, fusion in (("plain blend", BLEND), ("hybrid (qa)", default), ("hybrid, learned", learned)):
            retriever.fusion = fusion
            t = time.perf_counter()
            retriever.search(q, k=5)
            times[label].append((time.perf_counter() - t) * 1000)
    retriever.fusion = default
    p50 = {k: statistics.median(v) for k, v in times.items()}
    p95 = {k: sorted(v)[int(0.95 * len(v))] for k, v in times.items()}
    ratio = p50["hybrid (qa)"] / p50["plain blend"]
    learned_ratio = p50["hybrid, learned"] / p50["hybrid (qa)"]
    return ["### Query latency (warm, one query at a time, squad-dev-a, same run)", "",
            "| ranking | p50 ms | p95 ms |", "|---|---|---|"] + [
        f"| {k} | {p50[k]:.1f} | {p95[k]:.1f} |" for k in times] + [
        "", f"qa's ranking costs {100 * (ratio - 1):+.0f}% of the plain blend's p50 latency, the learned one "
        f"{100 * (learned_ratio - 1):+.0f}% of qa's ({n} questions).", ""]


def abstention(embedder: Embedder, squad_docs: Path, questions: list[Question]) -> list[str]:
    names = sorted(p.name for p in squad_docs.glob("*.txt"))
    lines = ["### Abstention on SQuAD halves", "",
             "Index one half of the squad-dev-a articles and ask every question: those on the other",
             "half cannot be answered. The cosine-only rule puts its threshold where it gives the same",
             "false-abstention rate on the same split, so the two recall figures compare directly.", "",
             "| indexed half | unanswerable | answerable | abstain recall | false abstain | cosine-only recall |",
             "|---|---|---|---|---|---|"]
    evidence = {}
    for half, picked in (("A (even)", names[0::2]), ("B (odd)", names[1::2])):
        folder = linked_folder(f"squad-half-{half[0]}", {n: squad_docs / n for n in picked})
        r = Retriever.from_directory(folder, index_dir=OUT / f"index-squad-half-{half[0]}", embedder=embedder)
        asked = [replace(q, answers=q.answers if q.doc in picked else ()) for q in questions]
        results = r.search_batch([q.question for q in asked], k=10)
        rep = score(asked, results, "hybrid")
        # Cosine-only: the best dense hit's cosine, thresholded at the same false-abstention rate.
        dense = r.search_batch([q.question for q in asked], k=1, mode="dense")
        ans = [d.hits[0].score for q, d in zip(asked, dense) if q.answers]
        una = [d.hits[0].score for q, d in zip(asked, dense) if not q.answers]
        t = sorted(ans)[int(rep.false_abstain * len(ans))] if ans else 0
        cos_recall = sum(1 for s in una if s < t) / len(una)
        lines.append(f"| {half} | {rep.unanswerable} | {rep.answerable} | {rep.abstain_recall:.3f} | "
                     f"{rep.false_abstain:.3f} | {cos_recall:.3f} |")
        evidence[half[0]] = ([x.confidence for q, x in zip(asked, results) if q.answers],
                             [x.confidence for q, x in zip(asked, results) if not q.answers])
    # Is the threshold fitted to the split? Fit it on one half (4% false abstentions there)
    # and measure on the other.
    lines += ["", "Threshold fitted on one half (4% false abstentions there), measured on the other:", "",
              "| fitted on | threshold | measured on | abstain recall | false abstain |", "|---|---|---|---|---|"]
    for fit, other in (("A", "B"), ("B", "A")):
        t = statistics.quantiles(evidence[fit][0], n=100)[3]
        ans, una = evidence[other]
        lines.append(f"| {fit} | {t:.3f} | {other} | {sum(e < t for e in una) / len(una):.3f} | "
                     f"{sum(e < t for e in ans) / len(ans):.3f} |")
    return lines + [""]


PARTS = ("squad", "latency", "seedbbc", "abstention", "news", "normans", "conversations")


def main() -> int:
    parts = [a for a in sys.argv[1:] if a in PARTS] or list(PARTS)
    if not (DATA / "squad-dev-a").is_dir():
        print("bench/quality.py: ../shared/data is not here; nothing to measure")
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    embedder = Embedder()
    squad_docs = DATA / "squad-dev-a" / "docs"
    squad_q = read_questions(DATA / "squad-dev-a" / "questions.jsonl")
    squad = Retriever.from_directory(squad_docs, index_dir=OUT / "index-squad", embedder=embedder)
    report = ["## Retrieval quality", "", f"`.venv/bin/python bench/quality.py` on {time.strftime('%Y-%m-%d')}.", ""]
    if "squad" in parts:
        report += table(f"squad-dev-a: {len(squad_q)} questions, {len(squad)} sentences", squad, squad_q)
    if "latency" in parts:
        report += latency(squad, squad_q)
    if "seedbbc" in parts:
        report += seed_among_bbc(embedder)
    if "abstention" in parts:
        report += abstention(embedder, squad_docs, squad_q)
    if "normans" in parts:
        normans = read_questions(DATA / "squad2-normans" / "questions.jsonl")
        report += table(f"squad2-normans (SQuAD 2.0, the Normans article, over squad-dev-a): {len(normans)} questions, "
                        f"{sum(not q.answerable for q in normans)} unanswerable", squad, normans)
    if {"news", "conversations"} & set(parts):
        news = news_retriever(embedder)
        if "news" in parts:
            news_q = read_questions(DATA / "news" / "questions.jsonl")
            report += table(f"news: readers' own words, {len(news_q)} questions ({sum(not q.answerable for q in news_q)} "
                            f"in-topic unanswerable), all BBC + the seed, {len(news)} sentences", news, news_q)
        if "conversations" in parts:
            talks = read_conversations(DATA / "news" / "conversations.jsonl")
            report += table(f"news conversations, every turn through qa.conversation.ask: {len(talks)} conversations, "
                            f"{sum(len(c.turns) for c in talks)} turns", news, talks, evaluate_conversations)
            report += table("the same, follow-up turns only (turns 2 and 3)", news, talks,
                            lambda r, c, m: evaluate_conversations(r, c, m, later_only=True))
    print("\n".join(report))
    return 0


def news_retriever(embedder: Embedder) -> Retriever:
    """All BBC articles plus the seed, as ../shared/data/news-corpus.sh lays them out (symbolic links)."""
    links = {"000_efff323ac530a1c5.txt": ROOT / "seeds" / "000_efff323ac530a1c5.txt"}
    links.update({c: DATA / "bbc" / c for c in ("business", "entertainment", "politics", "sport", "tech")})
    return Retriever.from_directory(linked_folder("news-corpus", links), index_dir=OUT / "index-news", embedder=embedder)


def seed_among_bbc(embedder: Embedder) -> list[str]:
    report = []
    seed_q = read_questions(DATA / "seed" / "questions.jsonl")
    seedbbc = news_retriever(embedder)  # the same corpus: the seed among all BBC articles
    report += table(f"seed questions among the BBC articles: {len(seed_q)} questions, {len(seedbbc.documents)} "
                    f"articles, {len(seedbbc)} sentences", seedbbc, seed_q)
    rep = evaluate(seedbbc, seed_q).as_dict()
    report += [f"Abstention there: {rep['unanswerable']} unanswerable questions, abstain recall "
               f"{rep['abstain_recall']:.3f}; false abstain {rep['false_abstain']:.3f} on {rep['answerable']} answerable.", ""]
    return report


if __name__ == "__main__":
    sys.exit(main())
