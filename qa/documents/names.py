"""Names: the runs of capitalised words a text mentions ("Daniel Noboa", "Bank of England").

No entity recogniser installs and runs fast enough here for every sentence at query time, so
a name is a run of capitalised words, with the particles of names inside it, less the words
capitalised only because they open a sentence or a question ("What", "The", "He").
"""

from __future__ import annotations

import re

_NAME = re.compile(r"\b[A-Z][\w’'-]*(?:\s+(?:(?:of|de|del|la|van|von|bin|al|the|and)\s+)?[A-Z][\w’'-]*)*")
_NOT_NAMES = frozenset("""a an the this that these those he she it they we you i his her its their our my
what who whom whose when where why how which is are was were do does did can could will would should
has have had in on at for to of and but or if as by from with after before since while also
mr mrs ms dr sir january february march april may june july august september october november december
monday tuesday wednesday thursday friday saturday sunday both all some many most one two""".split())
_WORD = re.compile(r"\S+")
_POSSESSIVE = re.compile(r"[’']s$")


def name_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every name in ``text``, in order, a possessive "'s" left out.

    >>> text = "Who is the president of Ecuador? President Daniel Noboa's visit."
    >>> [text[a:b] for a, b in name_spans(text)]
    ['Ecuador', 'President Daniel Noboa']
    """
    spans = []
    for match in _NAME.finditer(text):
        words = [(m.start() + match.start(), m.end() + match.start()) for m in _WORD.finditer(match.group(0))]
        while words and text[words[0][0]:words[0][1]].casefold() in _NOT_NAMES:
            words = words[1:]
        while words and text[words[-1][0]:words[-1][1]].casefold() in _NOT_NAMES:
            words = words[:-1]
        if words:
            start, end = words[0][0], words[-1][1]
            possessive = _POSSESSIVE.search(text[start:end])
            spans.append((start, end - (len(possessive.group(0)) if possessive else 0)))
    return spans


def names_in(text: str) -> list[str]:
    """The names ``text`` mentions, in order.

    >>> names_in("Who is the president of Ecuador? President Daniel Noboa of Ecuador met Herzog.")
    ['Ecuador', 'President Daniel Noboa of Ecuador', 'Herzog']
    """
    return [text[a:b] for a, b in name_spans(text)]
