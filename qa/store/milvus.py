"""The Milvus store: a ``SentenceStore`` whose sentences, vectors and articles live in Milvus.

``milvus:PATH.db`` opens embedded milvus-lite (in this process, one process per .db);
``milvus://HOST:PORT`` (``milvus+https://`` for TLS) a server, milvus-lite's or a Milvus
Standalone/Distributed cluster, with the token from ``QA_MILVUS_TOKEN``, read when the store
first connects. Options: see ``qa.store.milvus_link.MilvusSpec`` (``?prefix=``, ``index=``,
``shards=``, ``replicas=``, ``timeout=``).

Three collections, named ``PREFIX_...``:

- ``sentences``: one row per sentence, keyed by its stable id (``qa.store.corpus``): the unit
  vector, the payload a citation needs (doc path, title, source, casefolded ``source_key``,
  ISO ``date`` or "", sentence ``number``, ``paragraph``, ``start``/``end``, ``heading``), the
  sentence's qa tokens with a BM25 function over them, and ``born``/``dead`` generations.
- ``articles``: each document's metadata and text, in rows of ``CHUNK_CHARS`` (a VARCHAR
  holds 64 KB), keyed by (path, sha256, chunk), with ``seq`` keeping the corpus's order.
- ``meta``: one row: model, dimension, the committed generation, counts. It is the commit
  point and the model check (another model or dimension raises ``ModelMismatchError``).

The corpus is rebuilt from the articles and sentences alone (no documents folder): two
query-iterator scans, ``PAGE_ROWS`` rows a round trip, checked against the stored ids.

Visibility (why a search never sees half an article): a row is visible at generation ``g``
when ``born <= g < dead``, and every search, query and corpus rebuild filters on it inside
Milvus. ``changed`` from committed generation G writes generation N = G + 1 in this order:

1. check the manifest still says G (another writer moved it: reopen and apply again);
2. delete what an interrupted attempt left (``born > G``) and revert its retirements
   (``G < dead < NEVER`` back to NEVER); delete rows retired before G (``dead < G``);
3. upsert the new articles and sentences with ``born = N``: invisible at G;
4. mark the rows of replaced and removed documents ``dead = N``: still visible at G;
5. write the manifest with generation N: one row, the commit. Readers of N see exactly N.

A crash (or a killed server) anywhere before 5 leaves G intact; re-running any change
repeats 2-5, so every article ends up exactly once. Readers holding G keep seeing G (their
ids stay in their corpus) until the change after next removes what N retired. One writer
at a time: two writers moving the same generation at once are not detected.

An article re-added unchanged (same path, text and spans) keeps its rows: its ids are
content-addressed, so rewriting them would hide it from readers of G while N is written. A
same-text article with new spans (another sentence splitter) is removed in one generation
and added in the next, since its new rows would take the ids of the old ones.

milvus-lite is not Milvus's C++ engine (it is a Python reimplementation); measured here:

- BM25 k1/b index params are ignored (1.5/0.75 always) and scores come back negative:
  ``bm25`` returns their magnitude. The ``english`` analyzer is refused and a stemmer filter
  is dropped, so qa sends its own stemmed tokens through the ``standard`` tokenizer.
- BM25 statistics are per segment: rows written by a later ``changed`` score against their
  own segment's IDF until compaction merges segments, so BM25 scores drift across batches.
- Shard and replica settings are accepted and ignored; only INVERTED scalar indexes exist;
  filter templates (``{param}``) and ``\\u`` escapes in string literals are not parsed;
  search returns every field unless ``output_fields`` names some; ``text_match`` is slow
  (qa does not use it); its query iterator logs "failed to get mvccTs" (harmless).
- A collection without a vector field is refused (as in Milvus), hence the 2-d placeholder
  vector in ``articles`` and ``meta``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..documents.filters import Filter
from ..documents.loading import Document
from ..documents.sentences import Span
from ..errors import IndexStoreError, ModelMismatchError
from .corpus import Corpus, spans_array
from ..errors import StoreUnavailableError
from .milvus_link import FORMAT, MAX_TOPK, NEVER, Link, MilvusSpec, parse_spec, quote
from .milvus_rows import article_keys, article_rows, load_corpus, sentence_rows

__all__ = ["MilvusStore", "open_milvus", "drop_milvus", "StoreUnavailableError", "MilvusSpec"]


def visible(generation: int) -> str:
    """The filter expression of the rows generation ``generation`` holds."""
    return f"born <= {generation} and dead > {generation}"


def filter_expression(generation: int, filter: Filter | None) -> str:
    """``filter`` as a Milvus expression, within generation ``generation``; same semantics as
    ``Filter.admits`` (ISO dates compare as strings; undated rows fail any date bound)."""
    parts = [visible(generation)]
    if filter is not None and filter.active:
        if filter.dated:
            parts.append('date != ""')
        if filter.since:
            parts.append(f"date >= {quote(filter.since)}")
        if filter.until:
            parts.append(f"date <= {quote(filter.until)}")
        if filter.sources:
            keys = sorted({s.casefold() for s in filter.sources})
            parts.append(f"source_key in [{', '.join(quote(k) for k in keys)}]")
    return " and ".join(parts)


@dataclass(frozen=True)
class MilvusStore:
    """One generation of a corpus held in Milvus; cheap to make, connects on first use.

    >>> import numpy as np, tempfile
    >>> from qa.documents.loading import parse_text
    >>> from qa.documents.sentences import split_document
    >>> doc = parse_text("Title\\n\\nOne sentence. Another one.", "a.txt")
    >>> spec = f"milvus:{tempfile.mkdtemp()}/doctest.db"
    >>> store = open_milvus(spec, "model", 2).changed(add=[(doc, split_document(doc), np.array([[1, 0], [0, 1]], np.float32))])
    >>> scores, ids = store.search(np.array([[0.0, 1.0]], np.float32), 1)
    >>> store.corpus.sentence_text(int(store.corpus.rows(ids[0])[0])), store.generation
    ('Another one.', 1)
    """

    spec: str
    model: str
    dimension: int
    _generation: int | None = field(default=None, repr=False)
    _corpus: Corpus | None = field(default=None, repr=False, compare=False)
    _link: Link | None = field(default=None, repr=False, compare=False)
    _lock: object = field(default_factory=threading.Lock, repr=False, compare=False)

    def __post_init__(self):
        if self._link is None:
            object.__setattr__(self, "_link", Link(parse_spec(self.spec)))

    # -- state, read on first use ------------------------------------------------------

    def _state(self) -> tuple[int, Corpus]:
        if self._corpus is None:
            with self._lock:
                if self._corpus is None:
                    generation, corpus = self._open()
                    object.__setattr__(self, "_generation", generation)
                    object.__setattr__(self, "_corpus", corpus)
        return self._generation, self._corpus

    def _open(self) -> tuple[int, Corpus]:
        link, where = self._link, self._link.spec.where
        meta = link.read_meta()
        if meta is None:
            link.create_missing(self.dimension)
            link.write_meta(model=self.model, dimension=self.dimension, generation=0, sentences=0, articles=0, persisted=0)
            meta = link.read_meta()
        if int(meta["format"]) != FORMAT:
            raise IndexStoreError(f"the Milvus store at {where} has layout {meta['format']}, this qa reads {FORMAT}; "
                                  f"rebuild it (drop its collections) or use another ?prefix=")
        if meta["model"] != self.model or int(meta["dimension"]) != self.dimension:
            raise ModelMismatchError(
                f"the Milvus store at {where} was built with {meta['model']} (dimension {meta['dimension']}), not "
                f"{self.model} (dimension {self.dimension}); pass --model {meta['model']}, or use another ?prefix=")
        link.create_missing(self.dimension)  # loads the collections too (a restarted server forgets)
        generation = int(meta["generation"])
        corpus = load_corpus(link, visible(generation), where)
        if len(corpus) != int(meta["sentences"]) or len(corpus.documents) != int(meta["articles"]):
            raise IndexStoreError(f"the Milvus store at {where} holds {len(corpus.documents)} articles and {len(corpus)} "
                                  f"sentences at generation {generation}, its manifest says {meta['articles']} and "
                                  f"{meta['sentences']}; rebuild it")
        return generation, corpus

    @property
    def generation(self) -> int:
        return self._state()[0]

    @property
    def corpus(self) -> Corpus:
        return self._state()[1]

    def __len__(self) -> int:
        return len(self.corpus)

    # -- the SentenceStore contract -----------------------------------------------------

    def search(self, queries: np.ndarray, k: int, filter: Filter | None = None) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dimension)
        k = min(k, len(self))
        if k <= 0 or not len(queries):
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        if k > MAX_TOPK:
            raise IndexStoreError(f"Milvus returns at most {MAX_TOPK} hits a query, not {k}; ask for fewer")
        expr, spec = filter_expression(self.generation, filter), self._link.spec
        hits = self._link.call("search", lambda c: c.search(
            spec.sentences, data=queries.tolist(), limit=k, filter=expr, output_fields=["id"], anns_field="vector",
            search_params=self._link.search_params(k)))
        return _arrays(hits, k, lambda d: d)

    def bm25(self, questions: list[str], k: int, filter: Filter | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` sentences by Milvus's BM25 over qa's tokens (``qa.ranking.lexical``), the
        same shapes as ``search``; scores are positive on every engine (milvus-lite's are negated)."""
        from ..documents.tokens import tokenize

        k = min(k, len(self))
        texts = [" ".join(tokenize(q)) for q in questions]
        asked = [i for i, t in enumerate(texts) if t]
        scores, ids = np.full((len(texts), max(k, 0)), -np.inf, np.float32), np.full((len(texts), max(k, 0)), -1, np.int64)
        if k <= 0 or not asked:
            return scores, ids
        if k > MAX_TOPK:
            raise IndexStoreError(f"Milvus returns at most {MAX_TOPK} hits a query, not {k}; ask for fewer")
        expr, spec = filter_expression(self.generation, filter), self._link.spec
        hits = self._link.call("search BM25", lambda c: c.search(
            spec.sentences, data=[texts[i] for i in asked], limit=k, filter=expr, output_fields=["id"],
            anns_field="sparse", search_params={"metric_type": "BM25"}))
        scores[asked], ids[asked] = _arrays(hits, k, abs)
        return scores, ids

    def similarity(self, query: np.ndarray, ids: np.ndarray) -> np.ndarray:
        return self.vectors(ids) @ np.asarray(query, dtype=np.float32).reshape(self.dimension)

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        self.corpus.rows(ids)  # unknown ids fail here, as in the local store
        unique = np.unique(ids)
        rows = self._link.get(self._link.spec.sentences, unique.tolist(), ["vector"], "fetch sentence vectors")
        found = {int(r["id"]): r["vector"] for r in rows}
        if len(found) != len(unique):
            raise IndexStoreError(f"the Milvus store at {self._link.spec.where} no longer holds some sentences of "
                                  f"generation {self.generation} (a writer moved on twice since); reopen the store")
        out = np.zeros((len(ids), self.dimension), np.float32)
        for i, key in enumerate(ids.tolist()):
            out[i] = found[key]
        return out

    def changed(self, add: list[tuple[Document, list[Span], np.ndarray]] = (),
                remove: set[str] = frozenset()) -> "MilvusStore":
        add, remove = list(add), set(remove)
        for doc, spans, vectors in add:
            vectors = np.asarray(vectors)
            if len(spans) != len(vectors):
                raise IndexStoreError(f"{doc.path}: {len(spans)} sentences but {len(vectors)} vectors")
            if len(vectors) and vectors.reshape(len(vectors), -1).shape[1] != self.dimension:
                raise ModelMismatchError(f"vectors of dimension {vectors.reshape(len(vectors), -1).shape[1]} cannot "
                                         f"join an index of dimension {self.dimension}")
        old = self.corpus
        paths, rows = old.paths, old.doc_rows()

        def same_spans(r: int, spans) -> bool:
            return np.array_equal(old.spans[rows[r]:rows[r + 1], 1:], spans_array(0, spans)[:, 1:])

        fresh, collide = [], set()
        for doc, spans, vectors in add:
            r = paths.get(doc.path)
            if r is not None and old.documents[r].sha256 == doc.sha256 and doc.path not in remove:
                if old.documents[r] == doc and same_spans(r, spans):
                    continue  # unchanged: its rows stay (see the module docstring)
                collide.add(doc.path)
            fresh.append((doc, spans, vectors))
        if not fresh and not (remove & set(paths)):
            return self
        store = self._commit([], collide) if collide else self
        return store._commit(fresh, remove)

    def _commit(self, add, remove: set[str]) -> "MilvusStore":
        link, spec = self._link, self._link.spec
        old, current = self.corpus, self.generation
        meta = link.read_meta()
        if meta is None or int(meta["generation"]) != current:
            raise IndexStoreError(
                f"the Milvus store at {spec.where} is at generation {meta and meta['generation']}, this copy at {current}: "
                f"another writer changed it; reopen it and apply the change again")
        nxt = current + 1
        corpus, _ = old.changed([(doc, spans) for doc, spans, _ in add], remove)
        # 2. what an interrupted attempt left, and what no reader of `current` or later can see
        for name in (spec.sentences, spec.articles):
            link.delete(name, f"born > {current}", "clear an interrupted build")
            stale = [r["id"] for page in link.pages(name, f"dead > {current} and dead < {NEVER}", ["id"],
                                                    "find an interrupted build's retirements") for r in page]
            link.set_dead(name, stale, NEVER)
            link.delete(name, f"dead < {current}", "drop retired rows")
        # 3. the new rows, invisible until the manifest names `nxt`
        from ..documents.tokens import tokenize

        link.write(spec.articles, (row for i, (doc, _, _) in enumerate(add)
                                   for row in article_rows(doc, seq=(nxt << 32) + i, born=nxt)), "write articles")
        link.write(spec.sentences, (row for doc, spans, vectors in add
                                    for row in sentence_rows(doc, spans, vectors, nxt, tokenize)), "write sentences")
        # 4. retire the old versions of replaced and removed documents
        rows = old.doc_rows()
        gone = [r for r, d in enumerate(old.documents) if d.path in remove or d.path in {doc.path for doc, _, _ in add}]
        link.set_dead(spec.sentences, np.concatenate([old.ids[rows[r]:rows[r + 1]] for r in gone] or [[]]), nxt)
        link.set_dead(spec.articles, [key for r in gone for key in article_keys(old.documents[r])], nxt)
        # 5. the commit
        link.write_meta(model=self.model, dimension=self.dimension, generation=nxt, sentences=len(corpus),
                        articles=len(corpus.documents), persisted=int(meta.get("persisted") or 0))
        return MilvusStore(self.spec, self.model, self.dimension, nxt, corpus, link)

    def persist(self, location: str | Path | None = None) -> "MilvusStore":
        """Flush the collections and record this generation as persisted; ``location`` is
        ignored (the store lives in Milvus). Returns this store."""
        generation, corpus = self._state()
        meta = self._link.read_meta()
        if meta is None or int(meta["generation"]) != generation:  # never wind a newer manifest back
            raise IndexStoreError(f"the Milvus store at {self._link.spec.where} is at generation "
                                  f"{meta and meta['generation']}, this copy at {generation}; reopen it to persist")
        self._link.flush()
        self._link.write_meta(model=self.model, dimension=self.dimension, generation=generation, sentences=len(corpus),
                              articles=len(corpus.documents), persisted=generation)
        return self

    def close(self) -> None:
        """Close the client (every generation sharing it reconnects on next use)."""
        self._link.close()


def _arrays(hits, k: int, score) -> tuple[np.ndarray, np.ndarray]:
    """Milvus hits as (scores, ids) arrays, best first, padded with -inf and -1 like FAISS."""
    scores, ids = np.full((len(hits), k), -np.inf, np.float32), np.full((len(hits), k), -1, np.int64)
    for i, row in enumerate(hits):
        pairs = sorted(((score(float(h["distance"])), int(h["id"])) for h in row), key=lambda p: -p[0])[:k]
        for j, (s, key) in enumerate(pairs):
            scores[i, j], ids[i, j] = s, key
    return scores, ids


def open_milvus(spec: str, model: str, dimension: int) -> MilvusStore:
    """Open the Milvus store ``spec`` (creating its collections if there are none) at its
    committed generation, corpus loaded; ``ModelMismatchError`` if built with another model.

    >>> import tempfile
    >>> store = open_milvus(f"milvus:{tempfile.mkdtemp()}/empty.db", "model", 8)
    >>> len(store), store.generation
    (0, 0)
    """
    store = MilvusStore(spec, model, dimension)
    store._state()
    return store


def drop_milvus(spec: str) -> None:
    """Delete the store's collections (a rebuild starts from nothing)."""
    link = Link(parse_spec(spec))
    try:
        link.drop()
    finally:
        link.close()

