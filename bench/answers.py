"""Answer phrases: how often one is shown, and how often it is right, on squad-dev-a and news.

    python bench/answers.py [--kinds all]    # --kinds all: also measure person/place/org

For each question whose kind ``qa.retrieval.answers.asked_kind`` recognises, the top hit's
answer phrase is compared with the gold answer spans: shown = a phrase was found; right = it
overlaps a gold span in the question's article. "right | right sentence" counts only the
questions whose top sentence holds the answer, which is what the phrase finder controls.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
OUT = ROOT / "bench" / "out"

from qa import Retriever  # noqa: E402
from qa.embedding import Embedder  # noqa: E402
from qa.evaluation import read_questions  # noqa: E402
from qa.evaluation.metrics import is_correct  # noqa: E402
from qa.retrieval import answers  # noqa: E402


def measure(retriever, questions, shown) -> dict:
    typed = [q for q in questions if q.answerable and answers.asked_kind(q.question)]
    results = retriever.search_batch([q.question for q in typed], k=1)
    per = defaultdict(lambda: defaultdict(int))
    for q, result in zip(typed, results):
        kind = answers.asked_kind(q.question)
        for key in (kind, "all"):
            per[key]["typed"] += 1
        if not result.hits:
            continue
        hit = result.hits[0]
        sentence_ok = is_correct(hit, q)
        phrase = answers.answer_phrase(hit.text, q.question, kind, shown)
        if phrase is None:
            continue
        start, end = hit.sentence.start + phrase[0], hit.sentence.start + phrase[1]
        gold = [(q.doc, a, b) for a, b in q.answers] + list(q.elsewhere)
        right = any(d == hit.sentence.doc and a < end and start < b for d, a, b in gold)
        for key in (kind, "all"):
            c = per[key]
            c["shown"] += 1
            c["right"] += right
            c["shown_right_sentence"] += sentence_ok
            c["right_given_sentence"] += right and sentence_ok
    out = {}
    for kind, c in per.items():
        out[kind] = {"typed": c["typed"], "shown": c["shown"],
                     "coverage": round(c["shown"] / c["typed"], 3) if c["typed"] else None,
                     "precision": round(c["right"] / c["shown"], 3) if c["shown"] else None,
                     "precision_given_right_sentence": round(c["right_given_sentence"] / c["shown_right_sentence"], 3)
                     if c["shown_right_sentence"] else None}
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kinds", choices=("shown", "all"), default="shown")
    args = parser.parse_args()
    shown = frozenset(k for k, _ in answers._ASKS) if args.kinds == "all" else answers.SHOWN_KINDS
    embedder = Embedder()
    squad = Retriever.from_directory(DATA / "squad-dev-a" / "docs", index_dir=OUT / "index-squad", embedder=embedder)
    print(json.dumps({"squad-dev-a": measure(squad, read_questions(DATA / "squad-dev-a" / "questions.jsonl"), shown)}), flush=True)
    news = Retriever.from_directory(OUT / "news-corpus", index_dir=OUT / "index-news", embedder=embedder)
    print(json.dumps({"news": measure(news, read_questions(DATA / "news" / "questions.jsonl"), shown)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
