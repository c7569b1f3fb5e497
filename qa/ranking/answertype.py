"""Answer types: does a sentence hold the kind of thing a question asks for?

"When ..." and "what year ..." want a date; "how many ..." wants a number; "how long ..."
wants a span of time or a length; "why ..." and "what is causing ..." want a cause ("because",
"stems from", "due to"). A sentence without one is rarely the answer. Only these types are
used: on SQuAD they cover a fifth of the questions and are recognized with near certainty;
person and place questions are left to the embeddings.
"""

from __future__ import annotations

import re

import numpy as np

_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_TIME = re.compile(rf"\b(1[0-9]\d\d|20\d\d)s?\b|\b({_MONTHS}|century|centuries)\b")
_NUMBER = re.compile(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty"
                     r"|hundred|thousand|million|billion|dozen|half)\b", re.IGNORECASE)
_QUANTITY = r"(\d[\d,.]*|one|two|three|four|five|six|seven|eight|nine|ten|twelve|twenty|thirty|fifty|hundred|several|many|few|a)"
# "How long" asks for a span of time (or a length), which a bare number or date is not.
_DURATION = re.compile(rf"\b{_QUANTITY}[\s-]+(years?|months?|weeks?|days?|hours?|minutes?|seconds?|decades?|centuries|"
                       r"millennia|km|kilomet(?:er|re)s?|miles?|met(?:er|re)s?|feet|ft)\b|\bsince\b", re.IGNORECASE)
_ASKS_DURATION = re.compile(r"\bhow long\b", re.IGNORECASE)
_ASKS_TIME = re.compile(r"^when\b|\bwhen\b|\b(what|which) (year|decade|century|date|month|day)\b|\bwhat time\b", re.IGNORECASE)
_ASKS_CAUSE = re.compile(r"\bwhy\b|\bwhat (is |was |are |were )?(causing|caused|causes|cause|led to|leads to|drives|drove)\b"
                         r"|\b(what|which) (is |was )?the (main )?(reason|cause)\b", re.IGNORECASE)
_CAUSE = re.compile(r"\b(because|due to|stems? from|stemmed from|caused by|results? from|resulted from|as a result|"
                    r"driven by|owing to|thanks to|led to|leads to|in order to|so that|reasons?)\b", re.IGNORECASE)
_ASKS_NUMBER = re.compile(r"\bhow (many|much|far|old|large|big|tall|high|often)\b"
                          r"|\bwhat (percentage|percent|number|amount|proportion)\b", re.IGNORECASE)


def asked_type(question: str) -> str | None:
    """``"duration"``, ``"time"``, ``"number"``, ``"cause"`` or None.

    >>> asked_type("When did formal diplomatic relations begin?"), asked_type("Who is he?")
    ('time', None)
    """
    if _ASKS_DURATION.search(question):
        return "duration"
    if _ASKS_TIME.search(question):
        return "time"
    if _ASKS_NUMBER.search(question):
        return "number"
    if _ASKS_CAUSE.search(question):
        return "cause"
    return None


class AnswerTypes:
    """Which sentences hold a date, a span, a number, a cause."""

    def __init__(self, texts: list[str]):
        self.time = np.fromiter((bool(_TIME.search(t)) for t in texts), dtype=bool, count=len(texts))
        self.duration = np.fromiter((bool(_DURATION.search(t)) for t in texts), dtype=bool, count=len(texts))
        self.number = np.fromiter((bool(_NUMBER.search(t)) for t in texts), dtype=bool, count=len(texts))
        self.cause = np.fromiter((bool(_CAUSE.search(t)) for t in texts), dtype=bool, count=len(texts))

    def match(self, kind: str | None, rows: np.ndarray) -> np.ndarray:
        """1.0 for each row holding the ``kind`` a question asks for (``asked_type``), else 0.0 (all 0.0 for None)."""
        if kind is None:
            return np.zeros(len(rows), dtype=np.float32)
        return getattr(self, kind)[rows].astype(np.float32)
