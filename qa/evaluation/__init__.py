"""Evaluation: question files read and a Retriever scored on them (MRR, recall, abstention)."""

from .conversations import Conversation, evaluate_conversations, is_conversation_file, read_conversations
from .metrics import Question, Report, evaluate, read_questions, score

__all__ = ["Conversation", "evaluate_conversations", "is_conversation_file", "read_conversations", "Question", "Report", "evaluate", "read_questions", "score"]
