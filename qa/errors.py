"""The exceptions qa raises: one base class, a few kinds, each message says how to fix it."""

from __future__ import annotations


class QAError(Exception):
    """Base of every error qa raises on purpose; ``str(err)`` is one readable line."""


class DocumentError(QAError):
    """A document cannot be read: unknown encoding, binary data, unsupported type, too big."""


class QueryError(QAError):
    """A question cannot be searched: empty, or made only of whitespace and control characters."""


class IndexStoreError(QAError):
    """The index on disk is missing, corrupted, truncated, or of another format version."""


class ModelMismatchError(IndexStoreError):
    """The index was built with another embedding model (or dimension) than the one asked for."""


class StoreUnavailableError(IndexStoreError):
    """A remote store (Milvus) cannot be reached: the message names its address."""


class ModelLoadError(QAError):
    """A model (the embedding model, the re-ranking model) cannot be loaded from local files (qa never downloads)."""
