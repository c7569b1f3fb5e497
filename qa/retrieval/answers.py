"""Answers: the phrase inside a quoted sentence that answers the question, when it can be told.

For questions asking for a date, a span of time, an amount of money, a percentage, a number,
a person, a place or an organisation, the first phrase of that kind in the sentence that the
question does not already name is the answer phrase ("When did formal diplomatic relations
begin?" -> "1949"). Dates, amounts and numbers are found by patterns; people, places and
organisations as runs of capitalised words. Kinds whose phrases were not right often enough
on squad-dev-a and the news questions are not shown at all (``SHOWN_KINDS``), since a wrong
highlight misleads more than none.
"""

from __future__ import annotations

import re
import unicodedata

from ..documents.names import name_spans

_ASKS = [
    ("percent", re.compile(r"\bwhat (percentage|percent|proportion|share)\b|\bby how much\b", re.I)),
    ("date", re.compile(r"^when\b|\bwhen\b|\b(what|which|in what) (year|date|month|day|decade|century)\b", re.I)),
    ("duration", re.compile(r"\bhow long\b", re.I)),
    ("money", re.compile(r"\bhow much (money|did|does|do|was|were|is|are|has|have|will|would|could)\b"
                         r"|\bwhat (price|sum|fee|amount|cost|value)\b|\bat what price\b"
                         r"|\bhow much\b.*\b(cost|pay|paid|worth|spend|spent|raise|raised|fine|fined|sell|sold|earn|charge)", re.I)),
    ("number", re.compile(r"\bhow (many|much|far|old|large|big|tall|high|often|fast)\b|\bwhat (number|amount|size|age)\b", re.I)),
    ("person", re.compile(r"^(who|whom|whose)\b|\bwho (is|was|were|are|did|has|had|will)\b"
                          r"|\b(which|what) (player|man|woman|person|minister|leader|president|actor|actress|singer|director"
                          r"|chief|boss|manager|coach|star|author|writer|official|executive|king|queen)\b", re.I)),
    ("place", re.compile(r"^where\b|\bwhere\b|\b(which|what|in which|in what) (country|city|town|state|region|nation"
                         r"|continent|place|island|county|capital|area|province)\b", re.I)),
    ("org", re.compile(r"\b(which|what) (company|firm|organi[sz]ation|team|club|party|group|bank|university|band|agency"
                       r"|network|broadcaster|newspaper|retailer|airline|carmaker|body|institution|league)\b", re.I)),
]
_MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
_DAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_DATE = re.compile(rf"\b(?:{_DAY},? )?(?:\d{{1,2}} {_MONTH}(?:,? \d{{4}})?|{_MONTH}(?: \d{{1,2}}(?:st|nd|rd|th)?)?(?:,? \d{{4}})?)\b"
                   rf"|\b(?:1[0-9]\d\d|20\d\d)s?\b|\b{_DAY}\b|\b(?:yesterday|today|last (?:week|month|year))\b")
_NUMBER_WORD = r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|dozen)"
_SCALE = r"(?:\s?(?:%|per cent|percent|m\b|bn\b|million|billion|trillion|thousand|hundred))?"
_NUMBER = re.compile(rf"(?<![\w.])\d[\d,.]*(?<![.,]){_SCALE}|\b{_NUMBER_WORD}\b(?:[\s-]{_NUMBER_WORD}\b)?{_SCALE}", re.I)
_MONEY = re.compile(r"[$£€¥]\s?\d[\d,.]*(?<![.,])(?:\s?(?:m|bn|million|billion|trillion|k)\b)?(?:\s?\([^)]{1,30}\))?"
                    r"|\b\d[\d,.]*(?<![.,])\s?(?:m|bn|million|billion)?\s?(?:pounds|dollars|euros|pence|yen|baht|rupees)\b"
                    r"|\b\d[\d,.]*p\b", re.I)
_PERCENT = re.compile(r"\b\d[\d,.]*(?<![.,])\s?(?:%|per cent|percent)", re.I)
_DURATION = re.compile(rf"\b(?:\d[\d,.]*|{_NUMBER_WORD}|several|a few|a|an)(?:[\s-]+(?:and a half|more))?[\s-]+"
                       r"(?:years?|months?|weeks?|days?|hours?|minutes?|seconds?|decades?|centuries)\b", re.I)
_WORD = re.compile(r"[\w'-]+")
_PATTERNS = {"date": [_DATE], "duration": [_DURATION], "money": [_MONEY], "percent": [_PERCENT],
             "number": [_MONEY, _PERCENT, _NUMBER]}

# The kinds shown. Measured by bench/answers.py --kinds all (bench/RESULTS.md, "Answer
# phrases"), right when the top sentence is right, squad-dev-a / news: date 0.83 / 0.92,
# duration 0.81 / 1.0, money 0.79 / 0.75, percent 0.78 / 1.0. Left out: number 0.58 / 0.77
# (sentences hold several numbers and the first is often not the one asked for), and people,
# places and organisations as capitalised words, 0.37-0.50 (the question's own subject competes).
SHOWN_KINDS = frozenset({"date", "duration", "money", "percent"})


def asked_kind(question: str) -> str | None:
    """The kind of phrase a question asks for, or None.

    >>> asked_kind("When did formal diplomatic relations begin?"), asked_kind("How many bids has he had?")
    ('date', 'number')
    >>> s = "Former Enron directors agreed to pay $168m (£89m) to settle the lawsuit."
    >>> start, end = answer_phrase(s, "How much have the former Enron directors agreed to pay?")
    >>> s[start:end]
    '$168m (£89m)'
    
    """
    for kind, pattern in _ASKS:
        if pattern.search(question):
            return kind
    return None


def _fold(word: str) -> str:
    word = unicodedata.normalize("NFKD", word.casefold())
    word = "".join(c for c in word if not unicodedata.combining(c))
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


def _candidates(text: str, kind: str):
    if kind in _PATTERNS:
        for pattern in _PATTERNS[kind]:
            yield from ((m.start(), m.end()) for m in pattern.finditer(text))
        return
    yield from name_spans(text)


def answer_phrase(sentence: str, question: str, kind: str | None = None,
                  shown: frozenset[str] = SHOWN_KINDS) -> tuple[int, int] | None:
    """(start, end) of the answer phrase inside ``sentence``, or None.

    >>> s = "Formal diplomatic relations began in 1949."
    >>> start, end = answer_phrase(s, "When did formal diplomatic relations begin?")
    >>> s[start:end]
    '1949'
    """
    kind = kind or asked_kind(question)
    if kind is None or kind not in shown:
        return None
    asked = {_fold(w) for w in _WORD.findall(question)}
    found = sorted(set(_candidates(sentence, kind)), key=lambda span: (span[0], -span[1]))
    for start, end in found:
        words = [_fold(w) for w in _WORD.findall(sentence[start:end])]
        if words and all(w in asked for w in words):
            continue  # the question already names it ("in 2019" for "What happened in 2019?")
        return start, end
    return None
