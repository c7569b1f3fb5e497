"""Neighbourhood: the few rows of a remote corpus one question is ranked on, as a small corpus.

A store that keeps its corpus remote (``qa.store.milvus``) answers a question from what it
fetches for it: the best dense and BM25 sentences, the sentences of their articles that
hold one of the question's words (article-local word shares, article BM25), the hits'
paragraphs and the sentence before each (paragraph cosines, context windows, pronouns that
point back), the sentences that repeat a candidate's text anywhere, and the corpus-wide
statistics of the question's words. This module turns those rows into what ranking reads
of a local store:

- ``corpus``: a ``Corpus`` of the hits' articles in the corpus's order (their ``seq``), each
  with all its rows (``complete``): those read, with their real ids, and placeholders for
  the others (no text, no words, negative ids), so every sentence keeps its number and its
  neighbours; among them, in the same order, articles met only through a repeated
  sentence, with just those rows. Documents carry the text of the sentences read whole at their offsets
  (spaces elsewhere): a hit's sentence and context read exactly as from the article.
- ``store``: a read-only ``ViewStore`` over it, whose ``search`` is the store's own dense
  search for this question and whose vectors are the fetched ones.
- ``sentence_index``/``article_index``: ``TermIndex``es weighted by the corpus's statistics,
  so BM25 and word shares come out as over the whole corpus (``qa.store.terms``).
- ``groups()``: the rows sharing a candidate's text, as ranking's duplicate groups.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..documents.filters import Filter
from ..documents.loading import Document
from ..documents.tokens import normalized
from ..errors import IndexStoreError
from .corpus import Corpus
from .terms import Statistics, TermIndex, postings

# What every fetched sentence row holds, and what an article's rows say about it.
POSITION = ("id", "article", "number", "paragraph", "heading", "same")
ARTICLE = ("seq", "total", "words", "doc", "title", "source", "date")
PAYLOAD = (*POSITION, *ARTICLE, "start", "end")


@dataclass(frozen=True)
class ViewStore:
    """A ``SentenceStore`` over one question's neighbourhood: read-only, answering the one
    dense search that was made for it and the similarities of the sentences it fetched."""

    model: str
    dimension: int
    generation: int
    corpus: Corpus
    matrix: np.ndarray
    have: np.ndarray
    query: np.ndarray | None = None
    dense: tuple[np.ndarray, np.ndarray] | None = None
    filter: Filter | None = None
    asked: int = 0  # the k of the recorded search (it holds min(k, sentences) columns, as a local store's)

    def __len__(self) -> int:
        return len(self.corpus)

    def search(self, queries: np.ndarray, k: int, filter: Filter | None = None) -> tuple[np.ndarray, np.ndarray]:
        queries = np.asarray(queries, dtype=np.float32).reshape(-1, self.dimension)
        same_filter = (filter if filter is not None and filter.active else None) == self.filter
        if self.dense is None or len(queries) != 1 or not np.array_equal(queries[0], self.query) \
                or not same_filter or k > self.asked:
            raise IndexStoreError("a question's view answers only the dense search it was fetched with; "
                                  "search the store itself")
        return self.dense[0][:, :k], self.dense[1][:, :k]

    def similarity(self, query: np.ndarray, ids: np.ndarray) -> np.ndarray:
        return self.similarity_rows(query, self.corpus.rows(ids))

    def similarity_rows(self, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        if not self.have[rows].all():
            raise IndexStoreError("a question's view lacks the vectors of some sentences ranking asked for; "
                                  "this is a bug in qa.store.neighbourhood's choice of rows")
        return self.matrix[rows] @ np.asarray(query, dtype=np.float32).reshape(self.dimension)

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        rows = self.corpus.rows(np.asarray(ids, dtype=np.int64).reshape(-1))
        if not self.have[rows].all():
            raise IndexStoreError("a question's view holds the vectors of its candidates' paragraphs only")
        return self.matrix[rows].copy()

    def changed(self, add=(), remove=frozenset()):
        raise IndexStoreError("a question's view is read-only; change the store it came from")

    def persist(self, location=None):
        raise IndexStoreError("a question's view is read-only; persist the store it came from")


@dataclass(frozen=True)
class Neighbourhood:
    """One question's rows of a remote corpus, ready for ranking (see the module docstring)."""

    store: ViewStore
    complete: np.ndarray  # per document of the view: all its sentences are here
    same: np.ndarray  # per row: key of its normalized text
    known: np.ndarray  # per row: its text was fetched
    sentence_index: TermIndex
    article_index: TermIndex
    candidates: np.ndarray  # per row: ranking may take it as a candidate (a superset; read whole)
    round_trips: int = 0
    _groups: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def corpus(self) -> Corpus:
        return self.store.corpus

    def groups(self) -> dict[int, tuple[int, ...]]:
        """Rows whose text another fetched row repeats (spacing and case ignored), mapped to
        all rows holding it, in corpus order: every row of the corpus repeating a candidate's
        text is fetched, so a candidate's group is whole."""
        if "value" not in self._groups:
            by_key: dict[int, list[int]] = {}
            for row in np.flatnonzero(self.known).tolist():
                by_key.setdefault(int(self.same[row]), []).append(row)
            groups: dict[int, tuple[int, ...]] = {}
            for rows in by_key.values():
                if len(rows) < 2:
                    continue
                by_text: dict[str, list[int]] = {}
                for row in rows:
                    by_text.setdefault(normalized(self.corpus.sentence_text(row)), []).append(row)
                groups.update({r: tuple(same) for same in by_text.values() if len(same) > 1 for r in same})
            self._groups["value"] = groups
        return self._groups["value"]


def assemble(rows: dict[int, dict], complete: dict[int, dict], words: list[str], sentences: Statistics,
             articles: Statistics, model: str, dimension: int, generation: int, query: np.ndarray | None,
             dense: tuple[np.ndarray, np.ndarray] | None, filter: Filter | None, asked: int = 0,
             round_trips: int = 0, candidates=()) -> Neighbourhood:
    """The ``Neighbourhood`` of fetched sentence ``rows`` (by id) and of the ``complete``
    articles (by key: their ``ARTICLE`` fields from any of their rows).

    A row holds what was fetched of it: ``article``, ``number``, ``paragraph``, ``heading``
    always; ``tokens`` where its words were read (every row of a complete article that holds
    one of ``words`` was: the rest hold none); ``start``, ``end``, ``text``, ``vector`` where
    it was read whole. A complete article's sentences that were not fetched stand as rows
    without text, tokens or vector (a paragraph of their own, negative ids): they hold none
    of the question's words, no ranking signal reads them, and they keep every fetched
    sentence at its place (its number, its neighbours). ``candidates``: the ids ranking may
    take as candidates (a superset), read whole.
    """
    by_article: dict[int, dict[int, dict]] = {}
    for row in rows.values():
        by_article.setdefault(int(row["article"]), {})[int(row["number"])] = row
    meta = {**{a: next(iter(members.values())) for a, members in by_article.items()}, **complete}
    order = sorted(meta, key=lambda a: int(meta[a]["seq"]))
    documents, whole, lengths, blocks = [], [], [], []
    worded: list[tuple[int, list[str]]] = []  # (view row, tokens) of the rows of complete articles
    vectors: list[tuple[int, list]] = []
    doc_words: dict[str, list] = {w: [] for w in words}
    at = 0
    for d, key in enumerate(order):
        first, members = meta[key], by_article.get(key, {})
        is_whole = key in complete
        numbers = np.arange(1, int(first["total"]) + 1) if is_whole else np.asarray(sorted(members), np.int64)
        fetched = [members[n] for n in numbers.tolist() if n in members]
        documents.append(Document(path=first["doc"], title=first["title"], text=_text(fetched), sha256="",
                                  date=first["date"] or None, source=first["source"] or None))
        whole.append(is_whole)
        lengths.append(int(first["words"]) if is_whole else 0)
        # Placeholders first (a paragraph each, negative ids), then what was read put in place.
        spans = np.zeros((len(numbers), 5), np.int64)
        spans[:, 0], spans[:, 3] = d, -numbers
        ids = -(at + 1 + np.arange(len(numbers)))
        same, known, have = np.zeros(len(numbers), np.int64), np.zeros(len(numbers), bool), np.zeros(len(numbers), bool)
        counts = dict.fromkeys(words, 0)
        rest = next((r["rest"] for r in fetched if r.get("rest") is not None), "")
        for t in rest.split() if is_whole else ():
            if t in counts:
                counts[t] += 1
        place = {int(n): i for i, n in enumerate(numbers.tolist())}
        for r in fetched:
            i = place[int(r["number"])]
            spans[i] = (d, int(r.get("start", 0)), int(r.get("end", 0)), int(r["paragraph"]), int(bool(r["heading"])))
            ids[i], same[i], known[i] = int(r["id"]), int(r.get("same", 0)), "text" in r
            if r.get("vector") is not None:
                vectors.append((at + i, r["vector"]))
                have[i] = True
            if is_whole and r.get("tokens"):  # a row read whole for its text alone holds none of the words
                row_tokens = r["tokens"].split()
                worded.append((at + i, row_tokens))
                for t in row_tokens:
                    if t in counts:
                        counts[t] += 1
        blocks.append((spans, ids, same, known, have))
        at += len(numbers)
        for w, c in counts.items():
            if c:
                doc_words[w].append((d, c))
    spans, ids, same, known, have = (np.concatenate([b[i] for b in blocks]) if blocks else np.zeros((0, 5) if i == 0 else 0)
                                     for i in range(5))
    corpus = Corpus.with_ids(documents, spans.astype(np.int32).reshape(-1, 5), ids.astype(np.int64))
    matrix = np.zeros((len(ids), dimension), dtype=np.float32)
    for i, v in vectors:
        matrix[i] = v
    lists, row_lengths = postings([tokens for _, tokens in worded], words)
    sentence_postings = {w: (np.asarray([worded[j][0] for j in r], np.int64), c) for w, (r, c) in lists.items()}
    sentence_lengths = np.zeros(len(ids), np.int64)
    sentence_lengths[[row for row, _ in worded]] = row_lengths
    article_postings = {w: (np.asarray([d for d, _ in hits], np.int64), np.asarray([c for _, c in hits], np.float32))
                        for w, hits in doc_words.items() if hits}
    store = ViewStore(model, dimension, generation, corpus, matrix, have.astype(bool), query, dense, filter, asked)
    return Neighbourhood(store, np.asarray(whole, dtype=bool), same.astype(np.int64), known.astype(bool),
                         TermIndex(len(ids), sentence_postings, sentence_lengths, sentences),
                         TermIndex(len(documents), article_postings, np.asarray(lengths, np.int64), articles),
                         np.isin(ids, np.fromiter(candidates, np.int64)) & known.astype(bool), round_trips)


def _text(members: list[dict]) -> str:
    """An article's text as far as its fetched rows tell: each fetched sentence (with what
    follows it in its paragraph) at its offset, spaces elsewhere, as long as its last span."""
    pieces, at = [], 0
    for r in members:
        text = r.get("text")
        if text is None:
            continue
        start = int(r["start"])
        if start < at:  # overlapping rows cannot come from one split; keep the first
            continue
        pieces.append(" " * (start - at))
        pieces.append(text)
        at = start + len(text)
    end = max((int(r.get("end", 0)) for r in members), default=0)
    if at < end:
        pieces.append(" " * (end - at))
    return "".join(pieces)
