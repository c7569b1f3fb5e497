"""One question's neighbourhood (``qa.store.neighbourhood``), fetched from Milvus.

Five round trips a question, whatever the corpus's size (more only where one question's
rows outgrow one query: ``VIEW_ROWS`` sentences, ``VIEW_KEYS`` keys an expression):

1. the statistics of the question's words (``terms``: sentences and articles holding each);
2. the dense top-``depth``, the question's filter inside the search;
3. the BM25 top-``depth * BM25_OVERFETCH`` over qa's tokens, the filter inside, rescored
   here with the corpus's statistics and qa's k1/b, the best ``depth`` kept (milvus-lite
   ignores k1/b and keeps statistics per segment, so its own order is only a shortlist);
4. every sentence of the articles those hits belong to (``article in [...]``): their
   payload and tokens, for paragraphs, neighbours, article-local word shares and article BM25;
5. vectors and texts of the candidates' paragraphs (``id in [...]``) and every sentence
   that repeats a candidate's text (``same in [...]``): duplicates as sources.

Every expression names the generation (``born <= g < dead``); none scans a collection.
"""

from __future__ import annotations

import logging

import numpy as np

from ..documents.filters import Filter
from ..errors import IndexStoreError
from .milvus_link import MAX_TOPK, filter_expression, quote, visible
from .neighbourhood import PAYLOAD, Neighbourhood, assemble
from .terms import Statistics, TermIndex, postings

log = logging.getLogger(__name__)

# Milvus's BM25 top list is rescored here with the corpus's statistics and qa's k1/b: taking
# three times as many as ranking keeps covered the exact top list (measured on squad-dev-a:
# bench/RESULTS.md, "Scaling out"), at the cost of their token strings in one reply.
BM25_OVERFETCH = 3
VIEW_ROWS = 16_384  # sentences one query of a view returns at most (Milvus's query result limit)
VIEW_KEYS = 4_096  # keys in one `in [...]` expression of a view: a few tens of KB of expression
HIT_FIELDS = ["id", "article", "seq", "total"]
ROW_FIELDS = [*PAYLOAD, "tokens", "rest"]
DETAIL_FIELDS = [*PAYLOAD, "text", "vector"]


def fetch(store, query: np.ndarray | None, tokens: tuple[str, ...], depth: int, filter: Filter | None,
          dense: bool = True, lexical: bool = True) -> Neighbourhood:
    """The neighbourhood of one question in ``store`` (a ``MilvusStore``) at its generation."""
    link, spec, generation = store._link, store._link.spec, store.generation
    shown, expr = visible(generation), filter_expression(generation, filter)
    filter = filter if filter is not None and filter.active else None
    counts, trips = store.counts, 0
    words = sorted(set(tokens))
    df_s, df_a = {}, {}
    if words:  # 1.
        for row in link.query(spec.terms, f"{shown} and term in [{', '.join(quote(w) for w in words)}]",
                              ["term", "sentences", "articles"], len(words), "read the statistics of the question's words"):
            df_s[row["term"]], df_a[row["term"]] = int(row["sentences"]), int(row["articles"])
        trips += 1
    sentence_stats = Statistics(counts["sentences"], counts["sentence_tokens"], {w: df_s.get(w, 0) for w in words})
    article_stats = Statistics(counts["articles"], counts["article_tokens"], {w: df_a.get(w, 0) for w in words})
    n = counts["sentences"]
    hits: dict[int, dict] = {}
    recorded, asked = None, 0
    if dense and n:  # 2.
        asked = min(depth, n)
        found = link.call("search", lambda c: c.search(
            spec.sentences, data=[np.asarray(query, np.float32).reshape(-1).tolist()], limit=asked, filter=expr,
            output_fields=HIT_FIELDS, anns_field="vector", search_params=link.search_params(asked)))
        trips += 1
        pairs = sorted(((float(h["distance"]), h) for h in found[0]), key=lambda p: -p[0])[:asked]
        scores, ids = np.full((1, asked), -np.inf, np.float32), np.full((1, asked), -1, np.int64)
        for j, (score, h) in enumerate(pairs):
            scores[0, j], ids[0, j] = score, int(h["id"])
            hits[int(h["id"])] = _entity(h)
        recorded = (scores, ids)
    elif n and n <= depth:  # ranking's BM25 mode takes every sentence of a corpus this small
        hits.update({int(r["id"]): r for r in link.query(spec.sentences, expr, HIT_FIELDS, depth, "list the sentences")})
        trips += 1
    asked_words = [t for t in tokens if df_s.get(t, 0) > 0]
    if lexical and asked_words and n:  # 3.
        shortlist = min(depth * BM25_OVERFETCH, MAX_TOPK, n)
        found = link.call("search BM25", lambda c: c.search(
            spec.sentences, data=[" ".join(asked_words)], limit=shortlist, filter=expr,
            output_fields=[*HIT_FIELDS, "tokens"], anns_field="sparse", search_params={"metric_type": "BM25"}))
        trips += 1
        rows = [_entity(h) for h in found[0]]
        lists, lengths = postings([r["tokens"].split() for r in rows], words)
        index = TermIndex(len(rows), lists, lengths, sentence_stats)
        for i in _best(index.scores(index.ids(tokens)), depth).tolist():
            hits.setdefault(int(rows[i]["id"]), rows[i])
    totals = {int(r["article"]): int(r["total"]) for r in hits.values()}
    rows: dict[int, dict] = {}
    for batch in _batches(totals):  # 4.
        found = link.query(spec.sentences, f"{shown} and article in [{', '.join(map(str, batch))}]", ROW_FIELDS,
                           sum(totals[a] for a in batch), "read the sentences of the candidates' articles")
        trips += 1
        rows.update((int(r["id"]), dict(r)) for r in found)
    complete = set(totals)
    first = assemble(rows, complete, words, sentence_stats, article_stats, store.model, store.dimension, generation,
                     None, None, filter)
    corpus = first.corpus
    dense_ids = recorded[1][0][recorded[1][0] >= 0].tolist() if recorded is not None else []
    wanted = _candidates(first, dense_ids, depth, lexical, tokens)
    bounds = _paragraph_rows(corpus, wanted)
    need = corpus.ids[bounds].tolist()
    same = sorted({int(first.same[r]) for r in wanted.tolist()})
    details: dict[int, dict] = {}
    for lo in range(0, max(len(need), len(same)), VIEW_KEYS):  # 5.
        part_ids, part_same = need[lo:lo + VIEW_KEYS], same[lo:lo + VIEW_KEYS]
        terms = [f"id in [{', '.join(map(str, part_ids))}]"] if part_ids else []
        terms += [f"same in [{', '.join(map(str, part_same))}]"] if part_same else []
        found = link.query(spec.sentences, f"{shown} and ({' or '.join(terms)})", DETAIL_FIELDS, VIEW_ROWS,
                           "read the candidates' paragraphs and repeated sentences")
        trips += 1
        details.update((int(r["id"]), dict(r)) for r in found)
    missing = [i for i in need if i not in details]
    if missing:  # only where repeats of a candidate filled a whole reply
        log.warning("%d sentences repeat a candidate's text: sources beyond %d are left out", len(details), VIEW_ROWS)
        details.update((int(r["id"]), dict(r)) for r in link.get(spec.sentences, missing, DETAIL_FIELDS, "read vectors"))
        trips += 1
        if any(i not in details for i in missing):
            raise IndexStoreError(f"the Milvus store at {spec.where} no longer holds some sentences of generation "
                                  f"{generation} (a writer moved on twice since); reopen the store")
    for key, row in details.items():
        rows[key] = {**rows[key], **row} if key in rows else row
    return assemble(rows, complete, words, sentence_stats, article_stats, store.model, store.dimension, generation,
                    None if query is None else np.asarray(query, np.float32).reshape(-1), recorded, filter, asked, trips)


def _entity(hit: dict) -> dict:
    entity = dict(hit.get("entity") or {})
    entity.setdefault("id", hit.get("id"))
    return entity


def _best(scores: np.ndarray, depth: int) -> np.ndarray:
    """The positive scores among the ``depth`` best, every one tied with the last kept."""
    positive = np.flatnonzero(scores > 0)
    if len(positive) <= depth:
        return positive
    cut = np.partition(scores[positive], len(positive) - depth)[len(positive) - depth]
    return positive[scores[positive] >= cut]


def _batches(totals: dict[int, int]):
    """Article keys grouped so that each group's sentences fit one reply and its keys one expression."""
    batch, size = [], 0
    for key in sorted(totals):
        if batch and (size + totals[key] > VIEW_ROWS or len(batch) == VIEW_KEYS):
            yield batch
            batch, size = [], 0
        if totals[key] > VIEW_ROWS:
            raise IndexStoreError(f"an article of {totals[key]} sentences is more than one query returns "
                                  f"({VIEW_ROWS}); split it into smaller documents")
        batch.append(key)
        size += totals[key]
    if batch:
        yield batch


def _candidates(view: Neighbourhood, dense_ids: list[int], depth: int, lexical: bool, tokens) -> np.ndarray:
    """Rows ranking may take as candidates (a superset): the dense hits, the view's best BM25
    rows (ties kept), and every row of a view no larger than ``depth``."""
    corpus = view.corpus
    parts = [corpus.rows(np.asarray(dense_ids, np.int64))] if dense_ids else []
    if lexical:
        index = view.sentence_index
        parts.append(_best(index.scores(index.ids(tokens)), depth))
    if len(corpus) <= depth:
        parts.append(np.arange(len(corpus)))
    return np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64)


def _paragraph_rows(corpus, rows: np.ndarray) -> np.ndarray:
    """Every row of the paragraphs holding ``rows`` (a paragraph: consecutive rows of one
    article with one paragraph number)."""
    spans = corpus.spans
    if not len(rows):
        return np.zeros(0, np.int64)
    key_change = np.ones(len(spans), dtype=bool)
    key_change[1:] = (spans[1:, 0] != spans[:-1, 0]) | (spans[1:, 3] != spans[:-1, 3])
    group = np.cumsum(key_change) - 1
    return np.flatnonzero(np.isin(group, np.unique(group[rows])))
