"""Absent terms: the names, years and numbers of a question that an article never mentions.

A question about something the articles do not cover often borrows the topic's words and
swaps one thing ("the capital of Australia" asked of an article about Austria; "in 2019"
where the article says 2018): every sentence then looks related, and only the swapped
name, year or number tells. Words are compared folded (case, accents, a plural "s" or
"es") and a word of five letters or more also matches one edit away, so that a typo or a
spelling variant ("Ukrainian"/"Ukranian") is not taken for a swap.

>>> absent_terms("When did Noboa visit Jerusalem in 2025?", "Daniel Noboa was in Jerusalem in 2025.")
()
>>> absent_terms("When did Noboa visit Canberra in 2019?", "Daniel Noboa was in Jerusalem in 2025.")
('canberra', '2019')
"""

from __future__ import annotations

import re
import unicodedata

from ..documents.names import names_in

_WORD = re.compile(r"\w+")
_NUMBER = re.compile(r"\b\d[\d,.]*\b")
# A word this long or longer may match an article's word one edit away (a typo, a variant).
FUZZY_LENGTH = 5
# Capitalised words that name no particular thing: titles and generic heads of names.
_GENERIC = frozenset("president minister prime chief mr mrs ms dr sir lord lady king queen prince "
                     "government party club company firm group bank university city state".split())
# The small words inside names ("Bank of England", "Ludwig van Beethoven") name nothing alone.
_PARTICLES = frozenset("of de del la van von bin al the and".split())


# Words shorter than these keep their ending ("gas", "bus" are not plurals of "ga", "bu").
PLURAL_ES_LENGTH, PLURAL_S_LENGTH = 5, 4


def fold(word: str) -> str:
    """Casefolded, accents removed, a plural ending dropped.

    >>> fold("Élections"), fold("boxes"), fold("Ecuador")
    ('election', 'box', 'ecuador')
    """
    text = "".join(ch for ch in unicodedata.normalize("NFKD", word.casefold()) if not unicodedata.combining(ch))
    if len(text) >= PLURAL_ES_LENGTH and text.endswith("es") and text[-3] in "sxz":
        return text[:-2]
    if len(text) >= PLURAL_S_LENGTH and text.endswith("s") and not text.endswith("ss"):
        return text[:-1]
    return text


def question_terms(question: str) -> tuple[str, ...]:
    """The folded names' words, years and numbers of a question, each once, in order."""
    terms: list[str] = []
    for name in names_in(question):
        terms += [fold(w) for w in _WORD.findall(name) if not w.isdigit() and w.casefold() not in _GENERIC | _PARTICLES]
    terms += _numbers(question)
    return tuple(dict.fromkeys(t for t in terms if t))


def article_words(text: str) -> frozenset[str]:
    """The folded words and numbers of an article, as ``absent_terms`` compares them."""
    return frozenset([fold(w) for w in _WORD.findall(text)] + _numbers(text))


def _numbers(text: str) -> list[str]:
    """The numbers of a text as compared: thousands separators and a closing full stop dropped."""
    return [n.replace(",", "").rstrip(".") for n in _NUMBER.findall(text)]


def _one_edit(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` differ by at most one insertion, deletion or substitution."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1:] or (len(a) == len(b) and a[i + 1:] == b[i + 1:])


def absent_terms(question: str, article: str | frozenset[str]) -> tuple[str, ...]:
    """The question's names' words, years and numbers that ``article`` (its text or ``article_words``) lacks."""
    words = article if isinstance(article, frozenset) else article_words(article)
    out = []
    for term in question_terms(question):
        if term in words:
            continue
        if len(term) >= FUZZY_LENGTH and not term.isdigit() and any(_one_edit(term, w) for w in words if abs(len(w) - len(term)) <= 1):
            continue
        out.append(term)
    return tuple(out)
