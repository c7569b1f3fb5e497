"""Evaluation: question files read and a Retriever scored on them (MRR, recall, abstention)."""

from .metrics import Question, Report, evaluate, read_questions, score

__all__ = ["Question", "Report", "evaluate", "read_questions", "score"]
