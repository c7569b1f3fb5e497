"""Fixtures of the render tests: the seed articles plus the tests' own, indexed once a session."""

from __future__ import annotations

import pytest
from app_support import corpus

from qa import Retriever

HOSTILE = """Markup Test Article

The mayor said <script>alert("x")</script> would never run here. Critics posted <img src=x onerror="alert(1)"> online.
Costs rose by $5 and $6 *twice* in __May__.
"""
# One sentence of the seed article, word for word: its hit has two sources.
DIGEST = "Diplomacy Digest\n\nFormal diplomatic relations began in 1949. Trade grew slowly after that.\n"


@pytest.fixture(scope="session")
def seed(tmp_path_factory) -> Retriever:
    """seeds/ plus ``hostile.md`` (markup in its text), in ``<tmp>/docs`` with the index in ``<tmp>/index``."""
    return corpus(tmp_path_factory.mktemp("render-seed"), {"hostile.md": HOSTILE})[0]


@pytest.fixture(scope="session")
def with_copy(tmp_path_factory) -> Retriever:
    """seeds/ plus ``digest.txt``, which repeats one seed sentence: its hit has two sources."""
    return corpus(tmp_path_factory.mktemp("render-copy"), {"digest.txt": DIGEST})[0]
