"""Chat: answer a question in the context of the conversation so far.

A question like "What did he say about the hostages?" cannot be searched alone: "he" is
whoever the conversation is about. Each turn keeps the conversation's ``Subject``: the
question that opened it and the names met since (in the questions and in the first answers),
for as long as follow-ups continue; a standalone question starts a new subject. ``ask`` spots such follow-ups (pronouns, very
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
>>> "hostage" in second.result.hits[0].text
True
"""

from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import dataclass
from typing import Sequence

from ..documents.filters import Filter
from ..documents.names import names_in
from ..ranking.query import MAX_QUESTION_CHARS
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
    # A follow-up is read after the question that opened the conversation's subject and the
    # question just before it, plus the names the conversation has met: as many as this, newest kept.
    subject_names: int = 8
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
class Subject:
    """What a conversation is about, for as long as it lasts: the question that opened it
    and the names (people, organisations, places) met in its questions and first answers."""

    opening: str
    names: tuple[str, ...] = ()

    def met(self, texts: Sequence[str], most: int) -> "Subject":
        """This subject with the names of ``texts`` added (newest last, at most ``most``)."""
        names = list(self.names)
        for text in texts:
            for name in names_in(text):
                if name.casefold() in (n.casefold() for n in names):
                    names = [n for n in names if n.casefold() != name.casefold()]
                names.append(name)
        return Subject(self.opening, tuple(names[-most:]))


@dataclass(frozen=True)
class Turn:
    """One answered question: what was asked, what was found, and the context it was read in.

    ``follow_up_of`` is the earlier question(s) a follow-up was read after (None for a
    standalone question); ``searched`` lists the texts actually searched for; ``subject`` is
    what the conversation is about after this turn.
    """

    question: str
    result: SearchResult
    follow_up_of: str | None = None
    searched: tuple[str, ...] = ()
    subject: Subject | None = None

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
        subject = Subject(result.question).met([result.question, *_answer_name(result)], settings.subject_names)
        return Turn(result.question, result, None, (result.question,), subject)
    subject = previous.subject or Subject(previous.question).met([previous.question], settings.subject_names)
    context, searched_before = _context(previous, subject)
    wide = max(settings.wide_per_hit * k, settings.wide)
    # The question read in context is cut at MAX_QUESTION_CHARS from its end: make room so the
    # follow-up itself is never what gets cut.
    searched_before = searched_before[:max(0, MAX_QUESTION_CHARS - len(question) - 1)]
    alone, in_context = retriever.search_batch([question, f"{searched_before} {question}"], k=wide, mode=mode, filter=filter)
    # The topic is the article the previous answer came from and the one the question read in
    # context points to; a wider topic (every article cited) would let a distractor share the bonus.
    topic = {hits[0].sentence.doc for hits in (previous.result.hits, in_context.hits) if hits}
    hits = _merge(alone.hits, in_context.hits, topic, k, settings.topic_bonus)
    threshold = retriever.fusion.threshold(mode)
    found = alone.found or (in_context.found and alone.confidence >= settings.found_ratio * threshold)
    log.debug("follow-up %r read after %r: found=%s", question, context, found)
    result = dataclasses.replace(alone, hits=hits, found=found)
    subject = subject.met([alone.question], settings.subject_names)
    return Turn(alone.question, result, context, (alone.question, in_context.question), subject)


def _answer_name(result: SearchResult) -> list[str]:
    """The first name the answer gives that the question did not ("Who is the president of
    Ecuador?" -> "President Daniel Noboa of Ecuador"): often whom the follow-ups will mean."""
    if not (result.found and result.hits):
        return []
    asked = result.question.casefold()
    return [n for n in names_in(result.hits[0].text) if n.casefold() not in asked][:1]


def _context(previous: Turn, subject: Subject) -> tuple[str, str]:
    """The questions a follow-up is read after (the one that opened the subject, the one just
    before), one a line as ``Turn.follow_up_of`` keeps them, and the text searched before the
    follow-up: those questions plus the names met that they do not already say."""
    questions = "\n".join(dict.fromkeys([subject.opening, previous.question]))
    said = questions.casefold()
    names = [n for n in subject.names if n.casefold() not in said]
    return questions, " ".join([questions.replace("\n", " "), *names])


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