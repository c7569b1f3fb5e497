"""The Milvus store: a ``SentenceStore`` whose sentences, vectors and articles live in Milvus.

``milvus:PATH.db`` opens embedded milvus-lite (in this process, one process per .db);
``milvus://HOST:PORT`` (``milvus+https://`` for TLS) a server, milvus-lite's or a Milvus
Standalone/Distributed cluster, with the token from ``QA_MILVUS_TOKEN``, read when the store
first connects. Options: see ``qa.store.milvus_link.MilvusSpec`` (``?prefix=``, ``index=``,
``shards=``, ``replicas=``, ``timeout=``).

The client holds no corpus. Opening reads the one manifest row (and checks the collections
are there and loaded); a question reads its neighbourhood (``qa.store.milvus_view``: five
round trips, none a scan) and ranking runs on
that (``qa.store.neighbourhood``); the documents listing pages through the articles'
metadata, without text, when asked for; ``corpus`` reads everything back, for tools and
tests only. Four collections, named ``PREFIX_...`` (layout: ``qa.store.milvus_schema``):

- ``sentences``: one row per sentence, keyed by its stable id (``qa.store.corpus``): the unit
  vector; the payload a citation needs (doc path, title, source, casefolded ``source_key``,
  ISO ``date`` or "", sentence ``number``, ``paragraph``, ``start``/``end``, ``heading``); its
  article's key, ``seq`` (the corpus's order), sentence count ``total`` and token count
  ``words``; its ``text`` with what separates it from the next sentence of its paragraph (so
  a hit's context needs no article read); ``same``, the key of its text up to spacing and
  case (``same in [...]`` finds its duplicates); qa's tokens with a BM25 function over them,
  and ``rest``, its article's tokens outside sentences (title, dateline), repeated on every
  row like the title, so that an article's BM25 comes from whichever of its rows a question reads.
- ``articles``: each document's metadata, sentence count and text, in rows of ``CHUNK_CHARS``
  (a VARCHAR holds 64 KB), keyed by (path, sha256, chunk), with ``seq`` keeping the order.
- ``terms``: per word (qa's token), how many sentences and how many articles hold it: the
  corpus-wide IDF of BM25 and of ``found``'s word share, read per question for its words only.
- ``meta``: one row: model, dimension, the committed generation, counts of sentences,
  articles and their tokens (BM25's average lengths). It is the commit point and the model
  check (another model or dimension raises ``ModelMismatchError``).

Ranking scores a neighbourhood as the local store's whole corpus: BM25 of sentences and of
articles with qa's k1/b and the corpus's statistics (``qa.store.terms``, equal to bm25s to
the bit), paragraph cosines, article-local word shares and duplicate groups from the rows
fetched. Milvus's own BM25 only shortlists (``BM25_OVERFETCH`` times the depth).

Visibility (why a search never sees half an article): a row is visible at generation ``g``
when ``born <= g < dead``, and every search and query filters on it inside Milvus.
``changed`` from committed generation G writes generation N = G + 1 in this order:

1. check the manifest still says G (another writer moved it: reopen and apply again);
2. delete what an interrupted attempt left (``born > G``) and revert its retirements
   (``G < dead < NEVER`` back to NEVER); delete rows retired before G (``dead < G``);
3. upsert the new articles, sentences and word counts with ``born = N``: invisible at G;
4. mark the rows of replaced and removed documents, and the word counts they change,
   ``dead = N``: still visible at G;
5. write the manifest with generation N: one row, the commit. Readers of N see exactly N.

A change reads only what it touches: the articles of the paths it adds or removes (to
compare, retire and subtract their words) and the word counts it changes. A crash (or a
killed server) anywhere before 5 leaves G intact; re-running any change repeats 2-5, so
every article ends up exactly once. Readers holding G keep seeing G until the change after
next removes what N retired; so a reader moves on (``latest``: the Retriever re-reads the
manifest before each question, ``qa.retrieval.remote.FOLLOW_SECONDS``). One writer at a time: two writers moving the same generation
at once are not detected.

An article re-added unchanged (same path, text and spans) keeps its rows: its ids are
content-addressed, so rewriting them would hide it from readers of G while N is written. A
same-text article with new spans (another sentence splitter) is removed in one generation
and added in the next, since its new rows would take the ids of the old ones.

milvus-lite is not Milvus's C++ engine (it is a Python reimplementation); measured here:

- BM25 k1/b index params are ignored (1.5/0.75 always) and scores come back negative:
  ``bm25`` returns their magnitude. The ``english`` analyzer is refused and a stemmer filter
  is dropped, so qa sends its own stemmed tokens through the ``standard`` tokenizer.
- BM25 statistics are per segment: rows written by a later ``changed`` score against their
  own segment's IDF until compaction merges segments, so Milvus's BM25 order drifts across
  batches. Ranking does not read Milvus's scores (the shortlist is rescored), so answers
  do not drift with it.
- Shard and replica settings are accepted and ignored; only INVERTED scalar indexes exist;
  filter templates (``{param}``) and ``\\u`` escapes in string literals are not parsed;
  search returns every field unless ``output_fields`` names some; ``text_match`` is slow
  (qa does not use it); its query iterator logs "failed to get mvccTs" (harmless).
- A collection without a vector field is refused (as in Milvus), hence the 2-d placeholder
  vector in ``articles``, ``terms`` and ``meta``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..documents.filters import Filter
from ..documents.loading import Document
from ..documents.sentences import Span
from ..errors import IndexStoreError, ModelMismatchError, StoreUnavailableError
from .corpus import Corpus
from .milvus_commit import COUNTS, check_added, commit, plan
from .milvus_link import FORMAT, ID_BATCH, MAX_TOPK, Link, MilvusSpec, filter_expression, parse_spec, quote, visible
from .milvus_rows import LISTING_FIELDS, listed, load_articles, load_corpus, same_key
from .milvus_schema import create_missing
from .milvus_view import VIEW_ROWS, fetch
from .neighbourhood import Neighbourhood

__all__ = ["MilvusStore", "open_milvus", "drop_milvus", "StoreUnavailableError", "MilvusSpec", "visible",
           "filter_expression"]


@dataclass(frozen=True)
class MilvusStore:
    """One generation of a corpus held in Milvus; cheap to make, connects on first use.

    >>> import numpy as np, tempfile
    >>> from qa.documents.loading import parse_text
    >>> from qa.documents.sentences import split_document
    >>> doc = parse_text("Title\\n\\nOne sentence. Another one.", "a.txt")
    >>> spec = f"milvus:{tempfile.mkdtemp()}/doctest.db"
    >>> store = open_milvus(spec, "model", 2).changed(add=[(doc, split_document(doc), np.array([[1, 0], [0, 1]], np.float32))])
    >>> view = store.neighbourhood(np.array([0.0, 1.0], np.float32), ("anoth",), 1, None)
    >>> view.corpus.sentence_text(int(view.corpus.rows(view.store.search(view.store.query, 1)[1][0])[0]))
    'Another one.'
    >>> len(store), store.generation, [d.path for d in store.documents]
    (2, 1, ['a.txt'])
    """

    spec: str
    model: str
    dimension: int
    _generation: int | None = field(default=None, repr=False)
    _counts: dict | None = field(default=None, repr=False, compare=False)
    _link: Link | None = field(default=None, repr=False, compare=False)
    _lock: object = field(default_factory=threading.Lock, repr=False, compare=False)
    _cache: dict = field(default_factory=dict, repr=False, compare=False)  # listing, corpus: read when asked

    def __post_init__(self):
        if self._link is None:
            object.__setattr__(self, "_link", Link(parse_spec(self.spec)))

    # -- state: the manifest row, read on first use --------------------------------------

    def _state(self) -> tuple[int, dict]:
        if self._counts is None:
            with self._lock:
                if self._counts is None:
                    generation, counts = self._open()
                    object.__setattr__(self, "_generation", generation)
                    object.__setattr__(self, "_counts", counts)
        return self._generation, self._counts

    def _open(self) -> tuple[int, dict]:
        link = self._link
        meta = link.read_meta()
        if meta is None:
            create_missing(link, self.dimension)
            link.write_meta(model=self.model, dimension=self.dimension, generation=0, persisted=0,
                            **dict.fromkeys(COUNTS, 0))
            meta = link.read_meta()
        self._check(meta)
        create_missing(link, self.dimension)  # loads the collections too (a restarted server forgets)
        return int(meta["generation"]), {name: int(meta[name]) for name in COUNTS}

    def _check(self, meta: dict) -> None:
        where = self._link.spec.where
        if int(meta["format"]) != FORMAT:
            raise IndexStoreError(f"the Milvus store at {where} has layout {meta['format']}, this qa reads {FORMAT}; "
                                  f"rebuild it (qa index DOCS_DIR --store ... --rebuild) or use another ?prefix=")
        if meta["model"] != self.model or int(meta["dimension"]) != self.dimension:
            raise ModelMismatchError(
                f"the Milvus store at {where} was built with {meta['model']} (dimension {meta['dimension']}), not "
                f"{self.model} (dimension {self.dimension}); pass --model {meta['model']}, or use another ?prefix=")

    def latest(self) -> "MilvusStore":
        """This store at the generation its manifest names now (one read): itself when no
        writer committed since it was opened, else the newer generation, sharing the client.

        A reader must move on: a change deletes the rows retired two generations before it,
        so a copy left behind by two commits would miss articles without any error.
        """
        meta = self._link.read_meta(known=True)
        if meta is None:
            raise IndexStoreError(f"the Milvus store at {self._link.spec.where} has no manifest any more (dropped or "
                                  f"being rebuilt); index it again (qa index DOCS_DIR --store ...)")
        self._check(meta)
        if int(meta["generation"]) == self.generation:
            return self
        return MilvusStore(self.spec, self.model, self.dimension, int(meta["generation"]),
                           {name: int(meta[name]) for name in COUNTS}, self._link)

    @property
    def generation(self) -> int:
        return self._state()[0]

    @property
    def counts(self) -> dict:
        """Sentences, articles and their tokens at this generation (from the manifest)."""
        return dict(self._state()[1])

    def __len__(self) -> int:
        return self._state()[1]["sentences"]

    # -- documents: the listing, one article, everything ----------------------------------

    @property
    def documents(self) -> tuple[Document, ...]:
        """Every article's metadata, in the corpus's order, without text (``text`` is ""):
        read from the articles collection on first use, a page of ``PAGE_ROWS`` a round trip."""
        return self._listing()[0]

    def _listing(self) -> tuple[tuple[Document, ...], dict[str, int]]:
        if "listing" not in self._cache:
            rows = [r for page in self._link.pages(self._link.spec.articles, f"{visible(self.generation)} and chunk == 0",
                                                   LISTING_FIELDS, "list the articles") for r in page]
            rows.sort(key=lambda r: int(r["seq"]))
            self._cache["listing"] = (tuple(listed(r) for r in rows), {r["path"]: int(r["sentences"]) for r in rows})
        return self._cache["listing"]

    def sentence_count(self, path: str) -> int:
        return self._listing()[1].get(path, 0)

    def document(self, path: str) -> Document | None:
        """The article called ``path`` with its text, or None: one query, its chunks only."""
        keys = self._article_keys({path})
        if not keys:
            return None
        corpus = load_articles(self._link, visible(self.generation), keys, self._link.spec.where)
        return corpus.documents[0] if corpus.documents else None

    @property
    def corpus(self) -> Corpus:
        """The whole corpus, read back from Milvus (two scans): for tools and tests. Opening,
        searching and changing the store never read it."""
        if "corpus" not in self._cache:
            with self._lock:
                if "corpus" not in self._cache:
                    corpus = load_corpus(self._link, visible(self.generation), self._link.spec.where)
                    counts = self.counts
                    if len(corpus) != counts["sentences"] or len(corpus.documents) != counts["articles"]:
                        raise IndexStoreError(
                            f"the Milvus store at {self._link.spec.where} holds {len(corpus.documents)} articles and "
                            f"{len(corpus)} sentences at generation {self.generation}, its manifest says "
                            f"{counts['articles']} and {counts['sentences']}; rebuild it")
                    self._cache["corpus"] = corpus
        return self._cache["corpus"]

    def _article_keys(self, paths: set[str]) -> list[int]:
        paths, keys = sorted(paths), []
        for lo in range(0, len(paths), ID_BATCH):
            batch = paths[lo:lo + ID_BATCH]
            expr = f"{visible(self.generation)} and chunk == 0 and path in [{', '.join(quote(p) for p in batch)}]"
            keys += [int(r["article"]) for r in self._link.query(self._link.spec.articles, expr, ["article"], len(batch),
                                                                 "find the articles")]
        return keys

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
        """Top-``k`` sentences by Milvus's own BM25 over qa's tokens (``qa.ranking.lexical``), the
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

    def neighbourhood(self, query: np.ndarray | None, tokens: tuple[str, ...], depth: int, filter: Filter | None,
                      dense: bool = True, lexical: bool = True, whole: bool = False) -> Neighbourhood:
        """What ranking reads for one question (``qa.store.milvus_view``): ``query`` its vector
        (None when ``dense`` is False), ``tokens`` its qa tokens, ``depth`` candidates a
        retriever; ``whole``: the candidates' articles whole (a learned ranking reads them)."""
        return fetch(self, query, tuple(tokens), depth, filter, dense, lexical, whole)

    def similarity(self, query: np.ndarray, ids: np.ndarray) -> np.ndarray:
        return self.vectors(ids) @ np.asarray(query, dtype=np.float32).reshape(self.dimension)

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        unique, g = np.unique(ids), self.generation
        rows = self._link.get(self._link.spec.sentences, unique.tolist(), ["vector", "born", "dead"], "fetch sentence vectors")
        found = {int(r["id"]): r["vector"] for r in rows if int(r["born"]) <= g < int(r["dead"])}
        if len(found) != len(unique):
            raise IndexStoreError(f"the Milvus store at {self._link.spec.where} holds no sentence with some of these ids "
                                  f"at generation {g}: not ids of this store, or a writer moved on twice since "
                                  f"(reopen the store)")
        out = np.zeros((len(ids), self.dimension), np.float32)
        for i, key in enumerate(ids.tolist()):
            out[i] = found[key]
        return out

    def known_vectors(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """For each text, whether a sentence of this generation reads exactly so, and the
        vectors of those that do (found by their ``same`` key, confirmed on the text)."""
        known = np.zeros(len(texts), dtype=bool)
        if not len(self) or not texts:
            return known, np.zeros((0, self.dimension), np.float32)
        keys = sorted({same_key(t) for t in texts})
        vector_of: dict[str, list] = {}
        for lo in range(0, len(keys), ID_BATCH):
            expr = f"{visible(self.generation)} and same in [{', '.join(map(str, keys[lo:lo + ID_BATCH]))}]"
            for r in self._link.query(self._link.spec.sentences, expr, ["text", "start", "end", "vector"], VIEW_ROWS,
                                      "find sentences already embedded"):
                vector_of.setdefault(r["text"][:int(r["end"]) - int(r["start"])], r["vector"])
        known = np.fromiter((t in vector_of for t in texts), dtype=bool, count=len(texts))
        vectors = np.asarray([vector_of[t] for t in texts if t in vector_of], np.float32).reshape(-1, self.dimension)
        return known, vectors

    def changed(self, add: list[tuple[Document, list[Span], np.ndarray]] = (),
                remove: set[str] = frozenset()) -> "MilvusStore":
        add = list(add)
        # A path both added and removed is added, as on the local store (``Corpus.changed``).
        remove = set(remove) - {doc.path for doc, _, _ in add}
        check_added(add, self.dimension)
        old = self._touched({doc.path for doc, _, _ in add} | remove)
        paths = old.paths
        fresh, collide = plan(old, add)
        if not fresh and not (remove & set(paths)):
            return self
        if collide:
            return self._commit([], collide, old)._commit(fresh, remove)
        return self._commit(fresh, remove, old)

    def _touched(self, paths: set[str]) -> Corpus:
        """The articles (text and spans) now stored under ``paths``: what a change compares and retires."""
        keys = self._article_keys(paths) if paths and len(self) + self.counts["articles"] else []
        return load_articles(self._link, visible(self.generation), keys, self._link.spec.where) if keys else Corpus()

    def _commit(self, add, remove: set[str], old: Corpus | None = None) -> "MilvusStore":
        generation, counts, listing = commit(self, add, remove, old)
        return MilvusStore(self.spec, self.model, self.dimension, generation, counts, self._link,
                           _cache={"listing": listing} if listing is not None else {})

    def persist(self, location: str | Path | None = None) -> "MilvusStore":
        """Flush the collections and record this generation as persisted; ``location`` is
        ignored (the store lives in Milvus). Returns this store."""
        generation, counts = self._state()
        meta = self._link.read_meta()
        if meta is None or int(meta["generation"]) != generation:  # never wind a newer manifest back
            raise IndexStoreError(f"the Milvus store at {self._link.spec.where} is at generation "
                                  f"{meta and meta['generation']}, this copy at {generation}; reopen it to persist")
        self._link.flush()
        self._link.write_meta(model=self.model, dimension=self.dimension, generation=generation, persisted=generation,
                              **counts)
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
    committed generation: one manifest read; ``ModelMismatchError`` if built with another model.

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
