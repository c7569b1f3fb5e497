"""Shared pieces of the store tests: small synthetic articles, seeded unit vectors, and
backends (factories of empty and reopened stores) that one test body runs on."""

from __future__ import annotations

import numpy as np

from qa.documents.loading import parse_text
from qa.documents.sentences import split_document
from qa.store import local
from qa.store.local import LocalStore

MODEL, DIM = "test-model", 16
SOURCES = ("The Rio Times", "BBC", "the rio times", None, "Reuters")
WORDS = ("harbour", "election", "copper", "vaccine", "glacier", "tariff", "orchestra")


def article(i: int, version: int = 0):
    """Article ``i``: dated except every fifth, sources in mixed case, 2-5 sentences."""
    date = None if i % 5 == 4 else f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}"
    source = SOURCES[i % len(SOURCES)]
    head = (f"date {date} 1\n" if date else "") + f"Article {i}\n" + (f"(MENAFN- {source}) " if source else "")
    body = " ".join(f"Sentence {n} of article {i} version {version} is about the {WORDS[(i + n) % len(WORDS)]}."
                    for n in range(1, 3 + i % 4))
    doc = parse_text(head + body, f"news/{i:03d}.txt")
    spans = split_document(doc)
    rng = np.random.default_rng([i, version])
    vectors = rng.normal(size=(len(spans), DIM)).astype(np.float32)
    return doc, spans, vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def queries(n: int = 4, seed: int = 7) -> np.ndarray:
    q = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


class LocalBackend:
    name = "local"

    def __init__(self, tmp):
        self.folder = tmp / "index"

    def empty(self):
        return LocalStore(MODEL, DIM)

    def reopen(self, store):
        store.persist(self.folder)
        return local.load(self.folder, MODEL, DIM)


class MilvusBackend:
    """Milvus (embedded or a server) by spec; imported only where pymilvus is installed."""

    def __init__(self, name: str, spec: str):
        self.name, self.spec = name, spec

    def empty(self):
        from qa.store.milvus import open_milvus

        return open_milvus(self.spec, MODEL, DIM)

    def reopen(self, store):
        from qa.store.milvus import open_milvus

        store.persist(None)
        return open_milvus(self.spec, MODEL, DIM)  # a new client: everything read back from Milvus




def build(backend, n: int = 10):
    return backend.empty().changed(add=[article(i) for i in range(n)])


def reference(n: int = 10) -> LocalStore:
    return LocalStore(MODEL, DIM).changed(add=[article(i) for i in range(n)])
