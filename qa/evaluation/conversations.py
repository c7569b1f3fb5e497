"""Conversations: score the turns of multi-turn conversations, each asked as the chat asks it.

A conversation file holds one JSON object per line, ``{"id": ..., "turns": [question, ...]}``,
each turn a question record of the usual format. Turn one is asked alone, every later turn
through ``qa.conversation.ask`` with the turns before it as the conversation, exactly the
follow-up logic the chat uses; the report has the usual keys over all turns.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..conversation import Turn, ask
from ..errors import QAError
from ..retrieval import Retriever, SearchResult
from .metrics import Question, Report, question_of, score


@dataclass(frozen=True)
class Conversation:
    id: str
    turns: tuple[Question, ...]


def is_conversation_file(path: str | Path) -> bool:
    """Whether the file's first record has ``turns`` (a conversation file) rather than a ``question``."""
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    return isinstance(json.loads(line), dict) and "turns" in json.loads(line)
    except (OSError, ValueError):
        return False
    return False


def read_conversations(path: str | Path) -> list[Conversation]:
    """Read a conversation file; a bad line is a ``QAError`` naming it."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise QAError(f"{path}: cannot read the conversation file ({err.strerror or err})") from None
    out = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            turns = tuple(question_of(t, f"{record['id']}-{i}") for i, t in enumerate(record["turns"], 1))
            out.append(Conversation(str(record["id"]), turns))
        except (ValueError, KeyError, TypeError) as err:
            raise QAError(f"{path}:{number}: not a conversation record ({err}); see the format in the README") from None
    return out


def ask_conversation(retriever: Retriever, conversation: Conversation, mode: str = "hybrid", k: int = 10) -> list[Turn]:
    """Every turn of ``conversation`` answered in order, each a follow-up of the one before."""
    turns: list[Turn] = []
    for q in conversation.turns:
        turns.append(ask(retriever, q.question, turns[-1] if turns else None, k=k, mode=mode))
    return turns


def evaluate_conversations(retriever: Retriever, conversations: list[Conversation], mode: str = "hybrid",
                           later_only: bool = False) -> Report:
    """Score every turn (or, with ``later_only``, the turns after the first) of every conversation."""
    questions: list[Question] = []
    results: list[SearchResult] = []
    for conversation in conversations:
        for i, (q, turn) in enumerate(zip(conversation.turns, ask_conversation(retriever, conversation, mode))):
            if later_only and i == 0:
                continue
            questions.append(q)
            results.append(turn.result)
    return score(questions, results, mode)
