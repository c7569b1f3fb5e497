"""Forms: what a sentence's wording says about its part in the text, whatever the question.

A sentence that is itself a question ("What happened in 1986?") repeats a question's words
without answering anything. A sentence that points back ("They received training in ...", "Herzog
called it ...") leaves its subject in the sentence before it, so a question about it shares
its words with the two sentences together, not with either alone.
"""

from __future__ import annotations

import re

import numpy as np

# Closing quotes and brackets may follow the question mark of a quoted question.
_QUESTION = re.compile(r"\?[\"'”’)\]\s]*$")
# Third-person pronouns and demonstratives: in news prose their referent is most often in
# the sentence before ("Herzog called it a huge step forward").
_REFERS_BACK = re.compile(r"\b(he|she|it|they|him|her|them|his|its|their|this|these|those|such)\b", re.IGNORECASE)


def is_question(text: str) -> bool:
    """Whether the sentence ends with a question mark (closing quotes allowed).

    >>> is_question('What happened in 1986?'), is_question('"Why not?" he said.')
    (True, False)
    """
    return bool(_QUESTION.search(text))


def refers_back(text: str) -> bool:
    """Whether the sentence holds a pronoun or demonstrative that may point back.

    >>> refers_back('Herzog called it a huge step.'), refers_back('Theirs is new.')
    (True, False)
    """
    return bool(_REFERS_BACK.search(text))


class SentenceForms:
    """Which sentences are questions and which may refer to the sentence before."""

    def __init__(self, texts: list[str]):
        self.question = np.fromiter((is_question(t) for t in texts), dtype=bool, count=len(texts))
        self.refers_back = np.fromiter((refers_back(t) for t in texts), dtype=bool, count=len(texts))
