"""Abstention on SQuAD halves: the evidence rule against a calibrated found over the hand ranking.

    .venv/bin/python bench/abstention_calibrated.py

The calibrator is fitted as bench/fit_rerank.py fits it (5-fold cross-validation by article
over squad-dev-a, news and squad2-normans, on the hand ranking's evidence); each question of
bench/quality.py's halves experiment (one half of squad-dev-a's articles indexed, so the
other half's questions have no answer) is asked with the calibrator of its article's fold.
"""

from __future__ import annotations

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
    began = time.time()
    embedder = Embedder()
    squad_docs = fr.DATA / "squad-dev-a" / "docs"
    squad = Retriever.from_directory(squad_docs, index_dir=fr.OUT / "index-squad", embedder=embedder)
    questions = read_questions(fr.DATA / "squad-dev-a" / "questions.jsonl")
    sets = {"squad-dev-a": (squad, questions),
            "news": (fr.news_retriever(embedder), read_questions(fr.DATA / "news" / "questions.jsonl")),
            "squad2-normans": (squad, read_questions(fr.DATA / "squad2-normans" / "questions.jsonl"))}
    evidence = {n: fr.evidence(r, qs, lambda f: Fusion(explain=True), n) for n, (r, qs) in sets.items()}
    per_fold, _, _, _ = fr.calibrators_for(evidence, "bench/abstention_calibrated.py")
    print("| indexed half | found | unanswerable | answerable | abstain recall | false abstain |")
    print("|---|---|---|---|---|---|")
    names = sorted(p.name for p in squad_docs.glob("*.txt"))
    for half, picked in (("A", names[0::2]), ("B", names[1::2])):
        folder = quality.linked_folder(f"squad-half-{half}", {n: squad_docs / n for n in picked})
        retriever = Retriever.from_directory(folder, index_dir=fr.OUT / f"index-squad-half-{half}", embedder=embedder)
        asked = [replace(q, answers=q.answers if q.doc in picked else ()) for q in questions]
        for label, fusion_of in (("evidence rule (default)", lambda f: Fusion()),
                                 ("calibrated over the hand ranking, held out", lambda f: Fusion(calibrator=per_fold[f]))):
            rep = score(asked, fr.held_out(retriever, asked, fusion_of), "hybrid")
            print(f"| {half} | {label} | {rep.unanswerable} | {rep.answerable} | {rep.abstain_recall:.3f} | "
                  f"{rep.false_abstain:.3f} |", flush=True)
    print(f"\nRun took {time.time() - began:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
