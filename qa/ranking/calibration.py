"""Calibration: the probability that the best sentence answers, and ``found`` decided from it.

Once the candidates are ranked, one logistic model reads the best one: its cosine and its
margin over the other candidates' best cosine, its word shares, whether
it holds the type of thing asked for, and how many of the question's names, years and
numbers its article never mentions (``qa.ranking.absent``: the mark of a question on the
articles' topic that they do not answer). Its output is ``SearchResult.confidence``, a
probability that the first quote answers the question, fitted by ``bench/fit_rerank.py``
with cross-validation by article (held-out figures in bench/RESULTS.md); ``found`` is that
probability reaching the model's ``threshold``, chosen on the training folds to keep false
abstentions near ``TARGET_FALSE_ABSTAIN``.

>>> Calibrator.packaged().names == FEATURES
True
"""

from __future__ import annotations

import numpy as np

from ..errors import ModelLoadError
from .models import REFIT, LinearModel, packaged
from .signals import Candidates, coverage

FORMAT = "qa.found/1"
MODEL_FILE = "found.json"  # fitted over the learned re-ranker's ranking (``Fusion.learned``)
# The false-abstention rate the threshold is chosen for on the training folds (the issue
# asks for <= 0.05 held out; a point below leaves room for the folds' spread).
TARGET_FALSE_ABSTAIN = 0.04
# From this probability on the first quote more likely answers than not: the chat says
# "answers the question"; found but below it, "may answer".
SURE_PROBABILITY = 0.5

FEATURES = (
    "cosine",          # the best candidate's cosine with the question
    "cosine_margin",   # ... minus the highest cosine among the other candidates ranked (0 with one)
    "coverage",        # its corpus-IDF share of the question's words
    "local_coverage",  # its article-local share
    "answer_type",     # it holds the type asked for (0 when the question asks for none)
    "typed",           # the question asks for a type (a date, a number, a person ...)
    "absent",          # the question's names, years and numbers missing from its article
    "absent_share",    # ... as a share of them (0 when the question has none)
    "terms",           # how many names, years and numbers the question has
)


class Calibrator(LinearModel):
    """A ``LinearModel`` over ``FEATURES``; ``settings["threshold"]`` is the probability at which ``found``."""

    @property
    def threshold(self) -> float:
        return float(self.settings["threshold"])

    def probability(self, x: np.ndarray) -> np.ndarray:
        """The probability that the first quote answers, for each row of ``x`` (``FEATURES`` columns).

        >>> cal = Calibrator.packaged()
        >>> 0.0 < float(cal.probability(cal.mean[None, :])[0]) < 1.0
        True
        """
        return 1.0 / (1.0 + np.exp(-self.decision(x)))

    @classmethod
    def of(cls, mean, scale, coef, intercept: float, threshold: float, fitted_on: str = "") -> "Calibrator":
        return cls(FORMAT, FEATURES, np.asarray(mean, float), np.asarray(scale, float), np.asarray(coef, float),
                   float(intercept), {"threshold": float(threshold)}, fitted_on)

    def __post_init__(self):
        threshold = self.settings.get("threshold")
        if not isinstance(threshold, (int, float)) or not 0.0 <= threshold <= 1.0:
            raise ModelLoadError(f"the found model's threshold is {threshold!r}, not a probability; {REFIT}")

    @staticmethod
    def packaged() -> "Calibrator":
        """The model shipped with qa (read once per process)."""
        return Calibrator(**vars(packaged(MODEL_FILE, FORMAT, FEATURES)))

    @classmethod
    def read(cls, path) -> "Calibrator":
        return cls(**vars(LinearModel.load(path, FORMAT, FEATURES)))


def features(c: Candidates, best: int, ranked: np.ndarray, absent: tuple[int, int]) -> np.ndarray:
    """The ``FEATURES`` row of one question: its best candidate (position ``best`` in ``c.rows``),
    the positions ``ranked`` of the candidates ranked, and ``absent`` (missing terms, terms).

    Only quantities on a fixed scale enter (cosines, shares, counts), not the ranking's
    scores: those are min-max normalised over the candidates, so their spread depends on how
    many there are, and a model fitted on 5,000- and 40,000-sentence corpora would misread
    them on a 27-sentence one.
    """
    rows = c.rows[best:best + 1]
    missing, terms = absent
    others = c.cosine[ranked[ranked != best]]
    margin = float(c.cosine[best] - others.max()) if len(others) else 0.0
    return np.array([float(c.cosine[best]), margin,
                     float(coverage(c.features, c.query, rows)[0]), float(c.local[0][best]),
                     float(c.features.answer_types.match(c.query.answer_type, rows)[0]),
                     float(c.query.answer_type is not None), float(missing), missing / terms if terms else 0.0,
                     float(terms)])
