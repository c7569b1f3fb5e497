"""Embedding: texts in, L2-normalized float32 vectors out. Only this package knows the model stack."""

from .embedder import DEFAULT_MODEL, Embedder

__all__ = ["Embedder", "DEFAULT_MODEL"]
