"""Ranking: a question parsed once (``query``), candidates scored by registered signals
(``signals``) with declared weights (``weights``), fused and judged ``found`` (``fusion``)."""

from .fusion import MODES, Fusion
from .query import Query
from .weights import Settings, Weights

__all__ = ["Fusion", "Query", "Weights", "Settings", "MODES"]
