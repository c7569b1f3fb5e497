"""The store boundary: what retrieval asks of the place where sentences and vectors live.

Everything above ``qa.store`` talks to a ``SentenceStore``; only the modules of this package
know FAISS, Milvus or a disk layout. A store is immutable: ``changed`` returns the next
generation, so a reader holding one sees one consistent corpus while a writer prepares
the next. Sentences are named by the stable ids of their ``Corpus`` (``qa.store.corpus``),
never by row positions, so an engine in another process can hold them.

Every implementation runs the same contract tests (tests/store/test_contract.py). A store
that keeps its corpus remote (``RemoteStore``: Milvus) also answers, per question, with the
few rows ranking reads (``neighbourhood``): its ``corpus`` is then a full read nothing on the
search path makes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from ..documents.filters import Filter
from ..documents.loading import Document
from ..documents.sentences import Span
from .corpus import Corpus


@runtime_checkable
class SentenceStore(Protocol):
    """Unit sentence vectors keyed by stable id, beside the corpus they belong to."""

    model: str
    dimension: int
    generation: int

    @property
    def corpus(self) -> Corpus: ...

    def __len__(self) -> int: ...

    @property
    def documents(self) -> tuple[Document, ...]:
        """Every document's metadata, in corpus order (a remote store may leave ``text`` "")."""
        ...

    def document(self, path: str) -> Document | None:
        """The document called ``path``, text included, or None."""
        ...

    def sentence_count(self, path: str) -> int:
        """How many sentences the document called ``path`` has (0 if there is none)."""
        ...

    def known_vectors(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Which ``texts`` are exactly the text of a stored sentence (a mask), and the stored
        vectors of those (one row each, in order): identical sentences are embedded once."""
        ...

    def search(self, queries: np.ndarray, k: int, filter: Filter | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` sentences by inner product for each query (q, dimension), among those
        ``filter`` admits: (scores float32 (q, k'), ids int64 (q, k')), best first, id -1
        past the end. The filter applies inside the search, not to its results."""
        ...

    def similarity(self, query: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Inner product of one query vector with the sentences ``ids`` (float32)."""
        ...

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        """The stored unit vectors of ``ids`` (float32, one row per id)."""
        ...

    def changed(self, add: list[tuple[Document, list[Span], np.ndarray]] = (),
                remove: set[str] = frozenset()) -> "SentenceStore":
        """The next generation: documents in ``remove`` dropped, ``add`` (document, spans,
        vectors) added or replacing the document of the same path."""
        ...

    def persist(self, location: str | Path | None) -> "SentenceStore":
        """Make this generation durable (atomically) and return it as it now stands."""
        ...


@runtime_checkable
class RemoteStore(SentenceStore, Protocol):
    """A store that keeps its corpus remote (Milvus): ``corpus`` is a costly full read, and
    ranking runs per question on the ``Neighbourhood`` (``qa.store.neighbourhood``) it fetches."""

    def neighbourhood(self, query: np.ndarray | None, tokens: tuple[str, ...], depth: int, filter: Filter | None,
                      dense: bool = True, lexical: bool = True, whole: bool = False):
        """The rows one question is ranked on: the top-``depth`` dense (``query``) and BM25
        (``tokens``) sentences among those ``filter`` admits, their articles, paragraphs and
        duplicates, and the corpus statistics of the question's words; ``whole``: the
        candidates' articles whole instead of their paragraphs."""
        ...
