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
    elsewhere: tuple[tuple[str, int, int], ...] = ()  # (doc, start, end) answers in other articles

    @property
    def answerable(self) -> bool:
        return bool(self.answers or self.elsewhere)


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
            questions.append(question_of(json.loads(line)))
        except (ValueError, KeyError, TypeError) as err:
            raise QAError(f"{path}:{number}: not a question record ({err}); see the format in the README") from None
    return questions


def question_of(record: dict, default_id: str = "") -> Question:
    """One question record (``id``, ``question``, ``doc``, ``answers`` with ``start``/``end``) as a Question.

    ``alt_answers`` (the same answer in a near-duplicate article) count as answers too.
    """
    if not isinstance(record.get("question"), str):
        raise TypeError("'question' must be text")
    answers = [*record.get("answers", []), *record.get("alt_answers", [])]
    return Question(str(record.get("id", default_id)), record["question"], record.get("doc", ""),
                    tuple((int(a["start"]), int(a["end"])) for a in answers if "doc" not in a),
                    tuple((str(a["doc"]), int(a["start"]), int(a["end"])) for a in answers if "doc" in a))


def is_correct(hit, question: Question) -> bool:
    """Whether the hit (or any place its sentence also appears) overlaps an answer span."""
    wanted = [(question.doc, a, b) for a, b in question.answers] + list(question.elsewhere)
    places = [(src.doc, src.start, src.end) for src in hit.sources] or \
        [(hit.sentence.doc, hit.sentence.start, hit.sentence.end)]
    return any(doc == w_doc and start < w_end and w_start < end
               for doc, start, end in places for w_doc, w_start, w_end in wanted)


def rank_of_answer(result: SearchResult, question: Question) -> int | None:
    for hit in result.hits:
        if is_correct(hit, question):
            return hit.rank
    return None


def ask_all(retriever: Retriever, questions: list[Question], mode: str = "hybrid", batch: int = 256,
            filter=None) -> list[SearchResult]:
    """Every question's result at the deepest cut-off (10 hits), searched in batches."""
    depth, results = max(CUTOFFS), []
    for i in range(0, len(questions), batch):
        results.extend(retriever.search_batch([q.question for q in questions[i:i + batch]], k=depth, mode=mode,
                                              filter=filter))
    return results


def evaluate(retriever: Retriever, questions: list[Question], mode: str = "hybrid", batch: int = 256) -> Report:
    """Ask every question (10 hits each) and score the ranks of the answer sentences."""
    return score(questions, ask_all(retriever, questions, mode, batch), mode)


def score(questions: list[Question], results: list[SearchResult], mode: str) -> Report:
    answerable = [(q, r) for q, r in zip(questions, results) if q.answerable]
    unanswerable = [(q, r) for q, r in zip(questions, results) if not q.answerable]
    ranks = [rank_of_answer(r, q) for q, r in answerable]
    n = len(answerable)
    mrr = sum(1 / rk for rk in ranks if rk) / n if n else 0.0
    recall = {k: (sum(1 for rk in ranks if rk and rk <= k) / n if n else 0.0) for k in CUTOFFS}
    abstain = sum(1 for _, r in unanswerable if not r.found) / len(unanswerable) if unanswerable else None
    false_abstain = sum(1 for _, r in answerable if not r.found) / n if n else None
    return Report(len(questions), n, len(unanswerable), mrr, recall, abstain, false_abstain, mode)
