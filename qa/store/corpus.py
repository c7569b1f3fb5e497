"""Corpus: the documents, their sentence spans and each sentence's stable id.

Rows are positions in this generation (they move when documents come and go); ids do not.
A sentence's id is the first 63 bits of sha256 over its document's path, the document's
content hash and the sentence's number in it, so it survives any change to other
documents and a remote engine (Milvus) can hold it as an INT64 primary key. The path is
part of it because news collections hold byte-identical articles under several names
(100 of BBC's 2,225), whose sentences must stay distinct.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from ..documents.filters import Filter
from ..documents.loading import Document
from ..documents.sentences import Sentence, Span
from ..errors import IndexStoreError

# What a Corpus caches about itself, kept when only its generation changes.
CARRIED = ("_doc_rows_cache", "_text_keys_cache", "_ids_cache", "_id_order_cache")


def sentence_id(path: str, doc_sha256: str, number: int) -> int:
    """The stable id of sentence ``number`` (from 1) of a document: 63 bits of sha256.

    >>> sentence_id("a.txt", "0" * 64, 1) == sentence_id("a.txt", "0" * 64, 1) != sentence_id("a.txt", "0" * 64, 2)
    True
    """
    digest = hashlib.sha256(f"{path}\0{doc_sha256}\0{number}".encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def document_ids(doc: Document, count: int) -> np.ndarray:
    return np.fromiter((sentence_id(doc.path, doc.sha256, n) for n in range(1, count + 1)), dtype=np.int64, count=count)


def hash_texts(texts) -> np.ndarray:
    """A 64-bit hash of each text (blake2b: stable across processes, unlike ``hash``)."""
    return np.fromiter((int.from_bytes(hashlib.blake2b(t.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")
                        for t in texts), dtype=np.uint64)


def _sorted_keys(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.argsort(keys, kind="stable")
    return keys, order, keys[order]


def spans_array(doc_row: int, spans: list[Span]) -> np.ndarray:
    """Spans as the int32 rows a Corpus keeps: (document row, start, end, paragraph, heading)."""
    return np.array([(doc_row, s.start, s.end, s.paragraph, int(s.heading)) for s in spans], dtype=np.int32).reshape(-1, 5)


@dataclass(frozen=True)
class Corpus:
    """Documents and sentence spans, in row order; immutable (``changed`` returns a new one)."""

    documents: tuple[Document, ...] = ()
    spans: np.ndarray = field(default_factory=lambda: np.zeros((0, 5), dtype=np.int32))

    def __len__(self) -> int:
        return len(self.spans)

    @classmethod
    def with_ids(cls, documents, spans: np.ndarray, ids: np.ndarray) -> "Corpus":
        """A corpus whose rows carry the given ids: a view that holds only some sentences of
        an article (``qa.store.neighbourhood``), whose ids are not those of rows 1..n."""
        corpus = cls(tuple(documents), np.asarray(spans, dtype=np.int32).reshape(-1, 5))
        ids = np.array(ids, dtype=np.int64).reshape(-1)
        if len(ids) != len(corpus):
            raise IndexStoreError(f"{len(ids)} ids for {len(corpus)} sentences")
        ids.flags.writeable = False
        object.__setattr__(corpus, "_ids_cache", ids)
        return corpus

    @property
    def paths(self) -> dict[str, int]:
        return {d.path: i for i, d in enumerate(self.documents)}

    def _cached(self, name: str, build):
        value = self.__dict__.get(name)
        if value is None:
            value = build()
            object.__setattr__(self, name, value)
        return value

    def doc_rows(self) -> np.ndarray:
        """First sentence row of each document, plus the total at the end (len = docs + 1)."""
        # Cached: every hit asks for it, and at 100k sentences it costs a millisecond each time.
        def build():
            counts = np.bincount(self.spans[:, 0], minlength=len(self.documents)) if len(self.spans) \
                else np.zeros(len(self.documents), dtype=np.int64)
            rows = np.concatenate([[0], np.cumsum(counts)])
            rows.flags.writeable = False
            return rows
        return self._cached("_doc_rows_cache", build)

    def carry_to(self, other: "Corpus") -> "Corpus":
        """Give ``other`` (the same documents and spans) what this one cached."""
        for name in CARRIED:
            if name in self.__dict__:
                object.__setattr__(other, name, self.__dict__[name])
        return other

    # -- ids ----------------------------------------------------------------------------

    @property
    def ids(self) -> np.ndarray:
        """The stable id of every row (int64), computed once per corpus and carried by ``changed``."""
        def build():
            rows = self.doc_rows()
            parts = [document_ids(d, int(rows[i + 1] - rows[i])) for i, d in enumerate(self.documents)]
            ids = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
            ids.flags.writeable = False
            return ids
        return self._cached("_ids_cache", build)

    def rows(self, ids: np.ndarray) -> np.ndarray:
        """The row of each id; ``IndexStoreError`` if one is not in this corpus."""
        ids = np.asarray(ids, dtype=np.int64)
        order, sorted_ids = self._cached("_id_order_cache", lambda: _id_order(self.ids))
        if not len(ids):
            return np.zeros(0, dtype=np.int64)
        pos = np.minimum(np.searchsorted(sorted_ids, ids), max(len(sorted_ids) - 1, 0))
        if not len(sorted_ids) or not np.array_equal(sorted_ids[pos], ids):
            raise IndexStoreError("the vector index names sentences the corpus does not hold; rebuild with: qa index DOCS_DIR --rebuild")
        return order[pos]

    # -- texts --------------------------------------------------------------------------

    def sentence_text(self, row: int) -> str:
        doc, start, end = (int(x) for x in self.spans[row, :3])
        return self.documents[doc].text[start:end]

    def texts(self) -> list[str]:
        """Every sentence's text, in row order."""
        docs = self.documents
        return [docs[d].text[s:e] for d, s, e in self.spans[:, :3].tolist()]

    def sentence(self, row: int) -> Sentence:
        """The sentence at ``row`` with its full provenance."""
        doc_row, start, end, paragraph, heading = (int(x) for x in self.spans[row])
        doc = self.documents[doc_row]
        rows = self.doc_rows()
        return Sentence(doc=doc.path, title=doc.title, source=doc.source, date=doc.date,
                        number=row - int(rows[doc_row]) + 1, total=int(rows[doc_row + 1] - rows[doc_row]),
                        paragraph=paragraph, start=start, end=end, text=doc.text[start:end], heading=bool(heading))

    def rows_of(self, texts: list[str]) -> np.ndarray:
        """For each text, a row whose sentence is exactly that text, or -1 if none is.

        Looks texts up by a 64-bit hash of each sentence, sorted once per corpus (16 bytes a
        sentence, built on the first call) and carried over by ``changed``, which hashes only
        the sentences it adds; every match is confirmed on the text itself.
        """
        out = np.full(len(texts), -1, dtype=np.int64)
        if not len(self) or not texts:
            return out
        _, order, sorted_keys = self._cached("_text_keys_cache", lambda: _sorted_keys(hash_texts(self.texts())))
        want = hash_texts(texts)
        for i, pos in enumerate(np.searchsorted(sorted_keys, want).tolist()):
            while pos < len(order) and sorted_keys[pos] == want[i]:
                if self.sentence_text(int(order[pos])) == texts[i]:
                    out[i] = order[pos]
                    break
                pos += 1
        return out

    # -- filters ------------------------------------------------------------------------

    def admitted(self, filter: Filter | None) -> np.ndarray | None:
        """A row mask of the sentences ``filter`` admits, or None when it admits everything."""
        if filter is None or not filter.active:
            return None
        keep = np.fromiter((filter.admits(d) for d in self.documents), dtype=bool, count=len(self.documents))
        return np.repeat(keep, np.diff(self.doc_rows()))

    # -- changes ------------------------------------------------------------------------

    def changed(self, add: list[tuple[Document, list[Span]]] = (), remove: set[str] = frozenset()) -> tuple["Corpus", list[int]]:
        """A new corpus with ``remove`` dropped and ``add`` added or replaced, and the old
        document rows it kept (in their new order, before the added ones)."""
        replace = set(remove) | {doc.path for doc, _ in add}
        keep = [i for i, d in enumerate(self.documents) if d.path not in replace]
        rows = self.doc_rows()
        docs, parts = [], []
        for new_row, old_row in enumerate(keep):
            docs.append(self.documents[old_row])
            part = self.spans[rows[old_row]:rows[old_row + 1]].copy()
            part[:, 0] = new_row
            parts.append(part)
        for doc, spans in add:
            parts.append(spans_array(len(docs), spans))
            docs.append(doc)
        spans = np.concatenate(parts) if parts else np.zeros((0, 5), dtype=np.int32)
        new = Corpus(tuple(docs), spans)
        # Carry what is cheap to slice: ids and text hashes of kept rows; hash only what is new.
        for name, make in (("_ids_cache", lambda doc, ss: document_ids(doc, len(ss))),
                           ("_text_keys_cache", lambda doc, ss: hash_texts(doc.text[s.start:s.end] for s in ss))):
            cached = self.__dict__.get(name)
            if cached is None:
                continue
            values = cached[0] if name == "_text_keys_cache" else cached
            pieces = [values[rows[r]:rows[r + 1]] for r in keep] + [make(doc, ss) for doc, ss in add]
            joined = np.concatenate(pieces) if pieces else np.zeros(0, dtype=values.dtype)
            object.__setattr__(new, name, _sorted_keys(joined) if name == "_text_keys_cache" else joined)
        return new, keep


def _id_order(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(ids, kind="stable")
    return order, ids[order]
