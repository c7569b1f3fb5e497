"""Abstention on SQuAD halves: the evidence rule against a calibrated found over the hand ranking.

    .venv/bin/python bench/abstention_calibrated.py               # the calibrator as fit_rerank.py fits it
    .venv/bin/python bench/abstention_calibrated.py --with-halves # ... with the halves' questions in its fit too

The calibrator is fitted as bench/fit_rerank.py fits it (5-fold cross-validation by article
over squad-dev-a, news and squad2-normans, on the hand ranking's evidence); each question of
bench/quality.py's halves experiment (one half of squad-dev-a's articles indexed, so the
other half's questions have no answer) is asked with the calibrator of its article's fold.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace

import fit_rerank as fr  # puts the repository on sys.path (through quality)
import quality

from qa import Retriever  # noqa: E402
from qa.embedding import Embedder  # noqa: E402
from qa.evaluation import read_questions, score  # noqa: E402
from qa.ranking import Fusion  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--with-halves", action="store_true", help="fit the calibrator on the halves' questions too")
    args = parser.parse_args()
    began = time.time()
    embedder = Embedder()
    squad_docs = fr.DATA / "squad-dev-a" / "docs"
    squad = Retriever.from_directory(squad_docs, index_dir=fr.OUT / "index-squad", embedder=embedder)
    questions = read_questions(fr.DATA / "squad-dev-a" / "questions.jsonl")
    news = fr.news_retriever(embedder)
    sets = {"squad-dev-a": (squad, questions),
            "news": (news, read_questions(fr.DATA / "news" / "questions.jsonl")),
            "squad2-normans": (squad, read_questions(fr.DATA / "squad2-normans" / "questions.jsonl"))}
    names = sorted(p.name for p in squad_docs.glob("*.txt"))
    halves = {}
    for half, picked in (("A", names[0::2]), ("B", names[1::2])):
        folder = quality.linked_folder(f"squad-half-{half}", {n: squad_docs / n for n in picked})
        retriever = Retriever.from_directory(folder, index_dir=fr.OUT / f"index-squad-half-{half}", embedder=embedder)
        halves[f"squad-dev-a, half {half} indexed"] = (
            retriever, [replace(q, answers=q.answers if q.doc in picked else ()) for q in questions])
    fitted = {**sets, **halves} if args.with_halves else sets
    evidence = {n: fr.evidence(r, qs, lambda f: Fusion(explain=True), n) for n, (r, qs) in fitted.items()}
    per_fold, _, _, _ = fr.calibrators_for(evidence, "bench/abstention_calibrated.py")
    print(f"Calibrator fitted on: {', '.join(fitted)} (5 folds by article, held out); thresholds "
          + ", ".join(f"{per_fold[f].threshold:.3f}" for f in range(fr.FOLDS)) + ".\n")
    print("| set | found | MRR@10 | R@1 | abstain recall | false abstain |")
    print("|---|---|---|---|---|---|")
    shown = {**halves, **sets} if args.with_halves else halves
    for name, (retriever, asked) in shown.items():
        for label, fusion_of in (("evidence rule (default)", lambda f: Fusion()),
                                 ("calibrated over the hand ranking, held out", lambda f: Fusion(calibrator=per_fold[f]))):
            rep = score(asked, fr.held_out(retriever, asked, fusion_of), "hybrid")
            print(f"| {name} | {label} | {rep.mrr:.3f} | {rep.recall[1]:.3f} | {rep.abstain_recall or 0:.3f} | "
                  f"{rep.false_abstain:.3f} |", flush=True)
    print(f"\nRun took {time.time() - began:.0f} s.")
    return 0

if __name__ == "__main__":
    sys.exit(main())
