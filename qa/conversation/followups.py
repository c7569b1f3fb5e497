"""Chat: answer a question in the context of the conversation so far.

A question like "What did he say about the hostages?" cannot be searched alone: "he" is
whoever the previous question was about. ``ask`` spots such follow-ups (pronouns, very
short questions, "and ...", "what about ...") and searches twice, the question alone and
the question after the earlier one; sentences from the articles the conversation is about
get a bonus, so the follow-up stays on topic while the question's own words pick the
sentences.

>>> from qa import Retriever
>>> retriever = Retriever.from_directory("seeds")
>>> first = ask(retriever, "Who is the president of Ecuador?")
>>> second = ask(retriever, "What did he say about the hostages?", previous=first)
>>> second.follow_up_of
'Who is the president of Ecuador?'
>>> second.result.hits[0].text
'He expressed support for the return of all hostages held by Hamas.'
"""

from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import dataclass
from typing import Sequence

from ..documents.filters import Filter
from ..retrieval import Hit, Retriever, SearchResult

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class FollowUpSettings:
    """The tunable numbers of follow-up handling (tests/conversation/test_followups.py)."""

    # Sentences from the articles the conversation is about get this much on top of their own
    # score, scaled so the question's best sentence scores 1: enough to beat an equally worded
    # sentence elsewhere, not enough to lift an unrelated sentence over a strong match in
    # another article. (Retrieval scores have no fixed scale, hence the scaling.)
    topic_bonus: float = 0.25
    # A follow-up's own words carry less meaning ("he", "it"), so its best cosine is lower than
    # a standalone question's; it counts as answered when the question read in context is
    # answered and the question alone still comes this close to the found threshold.
    found_ratio: float = 0.7
    # How many earlier questions a chain of follow-ups keeps as context.
    context_questions: int = 2
    # A question of this many words or fewer leans on the conversation.
    short_question_words: int = 3
    # Each reading is searched this deep (at least ``wide_per_hit`` times k) before merging.
    wide: int = 20
    wide_per_hit: int = 4


DEFAULT = FollowUpSettings()

_PRONOUNS = re.compile(
    r"\b(he|she|him|her|his|hers|they|them|their|theirs|it|its|there|then|the same|"
    r"he's|she's|they're|it's|they've)\b", re.IGNORECASE)
# "that"/"this" are follow-ups only at the start or as the object at the end:
# "Why did that happen?", "When was this?", "Tell me more about that."
_DEMONSTRATIVE = re.compile(r"^\s*(that|this|those|these)\b|\b(that|this|those|these)\s*[?.!]*\s*$", re.IGNORECASE)
_CONTINUATION = re.compile(r"^\s*(and|also|but|so|what about|how about|what else|anything else|tell me more)\b",
                           re.IGNORECASE)
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Turn:
    """One answered question: what was asked, what was found, and the context it was read in.

    ``follow_up_of`` is the earlier question(s) a follow-up was read after (None for a
    standalone question); ``searched`` lists the texts actually searched for.
    """

    question: str
    result: SearchResult
    follow_up_of: str | None = None
    searched: tuple[str, ...] = ()

    @property
    def documents(self) -> tuple[str, ...]:
        """The documents this turn cites, best first, each once."""
        return tuple(dict.fromkeys(h.sentence.doc for h in self.result.hits))


def is_follow_up(question: str, settings: FollowUpSettings = DEFAULT) -> bool:
    """Whether a question leans on the conversation: a pronoun, "and ...", or only a few words.

    >>> is_follow_up("What did he say about the hostages?"), is_follow_up("And Israel?")
    (True, True)
    >>> is_follow_up("When did formal diplomatic relations begin?")
    False
    """
    if _PRONOUNS.search(question) or _DEMONSTRATIVE.search(question) or _CONTINUATION.match(question):
        return True
    return len(_WORD.findall(question)) <= settings.short_question_words


def ask(retriever: Retriever, question: str, previous: Turn | None = None, k: int = 3,
        mode: str = "hybrid", filter: Filter | None = None, settings: FollowUpSettings = DEFAULT) -> Turn:
    """Answer ``question`` with ``k`` sentences, reading it as a follow-up of ``previous`` if it is one.

    Raises ``QueryError`` for an empty question or a bad ``k``/``mode``, like ``Retriever.search``.

    >>> from qa import Retriever
    >>> turn = ask(Retriever.from_directory("seeds"), "When did formal diplomatic relations begin?", k=1)
    >>> turn.result.found, turn.result.hits[0].text, turn.follow_up_of
    (True, 'Formal diplomatic relations began in 1949.', None)
    """
    if previous is None or not is_follow_up(question, settings):
        result = retriever.search(question, k=k, mode=mode, filter=filter)
        return Turn(result.question, result, None, (result.question,))
    context = _context(previous, settings)
    wide = max(settings.wide_per_hit * k, settings.wide)
    alone, in_context = retriever.search_batch([question, f"{context} {question}"], k=wide, mode=mode, filter=filter)
    # The topic is the article the previous answer came from and the one the question read in
    # context points to; a wider topic (every article cited) would let a distractor share the bonus.
    topic = {hits[0].sentence.doc for hits in (previous.result.hits, in_context.hits) if hits}
    hits = _merge(alone.hits, in_context.hits, topic, k, settings.topic_bonus)
    threshold = retriever.fusion.settings.threshold
    found = alone.found or (in_context.found and alone.confidence >= settings.found_ratio * threshold)
    log.debug("follow-up %r read after %r: found=%s", question, context, found)
    result = dataclasses.replace(alone, hits=hits, found=found)
    return Turn(alone.question, result, context, (alone.question, in_context.question))


def _context(previous: Turn, settings: FollowUpSettings) -> str:
    questions = [*(previous.follow_up_of or "").split("\n"), previous.question]
    kept = [q for q in questions if q][-settings.context_questions:]
    # Turn.follow_up_of keeps the chain one question a line, so it can be cut again later.
    return "\n".join(kept)


def _merge(alone: Sequence[Hit], in_context: Sequence[Hit], topic: set[str], k: int, bonus: float) -> tuple[Hit, ...]:
    """Rank by both readings' (scaled) scores plus the topic bonus; renumber ranks from 1.

    A sentence that answers the question alone and also the question read after the previous
    one adds up both scores: the conversation picks between equally good answers.
    """
    def scaled(hits: Sequence[Hit]) -> dict[tuple[str, int], float]:
        top = max((h.score for h in hits), default=0.0)
        return {(h.sentence.doc, h.sentence.start): (h.score / top if top > 0 else 0.0) for h in hits}

    own, read_after = scaled(alone), scaled(in_context)
    best: dict[tuple[str, int], tuple[float, Hit]] = {}
    for hit in (*alone, *in_context):
        key = (hit.sentence.doc, hit.sentence.start)
        if key in best:
            continue
        if key not in own:
            # Found only through the earlier question: the question alone did not score it.
            hit = dataclasses.replace(hit, score=0.0)
        value = own.get(key, 0.0) + read_after.get(key, 0.0) + (bonus if hit.sentence.doc in topic else 0.0)
        best[key] = (value, hit)
    ranked = sorted(best.values(), key=lambda pair: -pair[0])[:k]
    return tuple(dataclasses.replace(hit, rank=i) for i, (_, hit) in enumerate(ranked, 1))