"""Evaluation: score a Retriever on a question file (format in ../shared/data/README.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import QAError
from ..retrieval import Retriever, SearchResult

CUTOFFS = (1, 3, 5, 10)


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    doc: str
    answers: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Report:
    """Sentence-retrieval quality: MRR@10 and recall@k over answerable questions, plus abstention."""

    questions: int
    answerable: int
    unanswerable: int
    mrr: float
    recall: dict[int, float]
    abstain_recall: float | None
    false_abstain: float | None
    mode: str

    def as_dict(self) -> dict:
        out = {"questions": self.questions, "answerable": self.answerable, "unanswerable": self.unanswerable,
               "mode": self.mode, "mrr@10": round(self.mrr, 4)}
        out.update({f"r@{k}": round(v, 4) for k, v in self.recall.items()})
        out["abstain_recall"] = None if self.abstain_recall is None else round(self.abstain_recall, 4)
        out["false_abstain"] = None if self.false_abstain is None else round(self.false_abstain, 4)
        return out


def read_questions(path: str | Path) -> list[Question]:
    """Read a question file: one JSON object per line with id, question, doc and answers."""
    questions = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise QAError(f"{path}: cannot read the question file ({err.strerror or err})") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            q = json.loads(line)
            questions.append(Question(str(q["id"]), q["question"], q.get("doc", ""),
                                      tuple((int(a["start"]), int(a["end"])) for a in q.get("answers", []))))
        except (ValueError, KeyError, TypeError) as err:
            raise QAError(f"{path}:{number}: not a question record ({err}); see the format in the README") from None
    return questions


def is_correct(hit, question: Question) -> bool:
    s = hit.sentence
    on_doc = s.doc == question.doc or any(src.doc == question.doc for src in hit.sources)
    if not on_doc:
        return False
    spans = [(src.start, src.end) for src in hit.sources if src.doc == question.doc] or [(s.start, s.end)]
    return any(start < a_end and a_start < end for start, end in spans for a_start, a_end in question.answers)


def rank_of_answer(result: SearchResult, question: Question) -> int | None:
    for hit in result.hits:
        if is_correct(hit, question):
            return hit.rank
    return None


def evaluate(retriever: Retriever, questions: list[Question], mode: str = "hybrid", batch: int = 256) -> Report:
    """Ask every question (10 hits each) and score the ranks of the answer sentences."""
    results: list[SearchResult] = []
    for i in range(0, len(questions), batch):
        results.extend(retriever.search_batch([q.question for q in questions[i:i + batch]], k=10, mode=mode))
    return score(questions, results, mode)


def score(questions: list[Question], results: list[SearchResult], mode: str) -> Report:
    answerable = [(q, r) for q, r in zip(questions, results) if q.answers]
    unanswerable = [(q, r) for q, r in zip(questions, results) if not q.answers]
    ranks = [rank_of_answer(r, q) for q, r in answerable]
    n = len(answerable)
    mrr = sum(1 / rk for rk in ranks if rk) / n if n else 0.0
    recall = {k: (sum(1 for rk in ranks if rk and rk <= k) / n if n else 0.0) for k in CUTOFFS}
    abstain = sum(1 for _, r in unanswerable if not r.found) / len(unanswerable) if unanswerable else None
    false_abstain = sum(1 for _, r in answerable if not r.found) / n if n else None
    return Report(len(questions), n, len(unanswerable), mrr, recall, abstain, false_abstain, mode)
