"""What the chat's one measure tells a reader: how often each verdict's first quote answers.

    .venv/bin/python bench/verdicts.py

The chat shows one verdict per answer (``qa.render.citation.verdict``: "answers the
question", "may answer", "related only"), from ``found`` and the confidence of the search.
For squad-dev-a, the news questions and squad2-normans (the last two hold in-topic
unanswerable questions), this counts, per verdict, the questions it was given to, how many
of them the first quote answers, and how many have no answer in the corpus, for the default
ranking and for the opt-in learned one (whose confidence is a calibrated probability).
Nothing is fitted here; the learned ranking's models were fitted on these three sets
(bench/fit_rerank.py), so its rows here are in-sample: fit_rerank.py prints the same table
held out (each question ranked by its fold's models).
"""

from __future__ import annotations

import sys
from collections import Counter

from quality import DATA, OUT, news_retriever  # also puts the repository on sys.path

from qa import Retriever  # noqa: E402
from qa.embedding import Embedder  # noqa: E402
from qa.evaluation import read_questions  # noqa: E402
from qa.evaluation.metrics import ask_all, rank_of_answer  # noqa: E402
from qa.ranking import Fusion  # noqa: E402
from qa.render.citation import VERDICTS, verdict  # noqa: E402


def tally(questions, results, fusion_of_question) -> dict[str, Counter]:
    """Per verdict: questions given it, first quotes that answer, questions with no answer.

    ``fusion_of_question(q)`` is the fusion that ranked ``q`` (its threshold and yardstick
    decide the verdict): one fusion for all, or, held out, the one of the question's fold.
    """
    out: dict[str, Counter] = {key: Counter() for key in VERDICTS}
    for q, result in zip(questions, results):
        fusion = fusion_of_question(q)
        c = out[verdict(result.found, result.confidence, fusion.threshold("hybrid"), fusion.sure("hybrid"))]
        c["n"] += 1
        c["unanswerable"] += not q.answerable
        c["first_answers"] += q.answerable and rank_of_answer(result, q) == 1
    return out


HEAD = ["| ranking | set | verdict | questions | first quote answers | no answer in the corpus |",
        "|---|---|---|---:|---:|---:|"]


def rows(label: str, name: str, counts: dict[str, Counter]) -> list[str]:
    out = []
    for key, c in counts.items():
        n = c["n"]
        share = (lambda x: f"{x} ({x / n:.0%})") if n else (lambda x: "0")
        out.append(f"| {label} | {name} | {key} | {n} | {share(c['first_answers'])} | {share(c['unanswerable'])} |")
    return out


def main() -> int:
    if not (DATA / "squad-dev-a").is_dir():
        print("bench/verdicts.py: ../shared/data is not here; nothing to measure")
        return 0
    embedder = Embedder()
    squad = Retriever.from_directory(DATA / "squad-dev-a" / "docs", index_dir=OUT / "index-squad", embedder=embedder)
    news = news_retriever(embedder)
    sets = [("squad-dev-a", squad, read_questions(DATA / "squad-dev-a" / "questions.jsonl")),
            ("news", news, read_questions(DATA / "news" / "questions.jsonl")),
            ("squad2-normans", squad, read_questions(DATA / "squad2-normans" / "questions.jsonl"))]
    print("\n".join(HEAD))
    for label, fusion in (("default", Fusion()), ("learned (`--learned`)", Fusion.learned())):
        for name, retriever, questions in sets:
            retriever.fusion = fusion
            print("\n".join(rows(label, name, tally(questions, ask_all(retriever, questions), lambda q: fusion))),
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
