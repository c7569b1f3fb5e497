"""One question's neighbourhood (``qa.store.neighbourhood``), fetched from Milvus.

At most five round trips a question, whatever the corpus's size (more only where one
question's rows outgrow one reply, ``VIEW_ROWS`` sentences, or one expression, ``VIEW_KEYS``):

1. the statistics of the question's words (``terms``: how many sentences and articles hold each);
2. the dense top-``depth``, the question's filter inside the search;
3. the BM25 top-``depth * BM25_OVERFETCH`` over qa's tokens, the filter inside, rescored
   here with the corpus's statistics and qa's k1/b, the best ``depth`` kept (milvus-lite
   ignores k1/b and keeps statistics per segment, so its own order is only a shortlist);
4. the sentences of those hits' articles that hold a word of the question (a BM25 search
   restricted to ``article in [...]``): article-local word shares and article BM25 count
   exactly these (the other sentences hold none of the words);
5. the candidates' paragraphs whole, the sentence before each candidate (``article == a and
   (paragraph in [...] or number in [...])``) and every sentence repeating a candidate's text
   (``same in [...]``): vectors, texts and payload, for paragraph cosines, context windows
   and duplicates as sources. For a learned ranking (``whole``), the candidates' articles
   whole instead (``article in [...]``): it reads every sentence's cosine and both neighbours.

Dense mode skips 3 and 4, BM25 mode 2. Every expression names the generation
(``born <= g < dead``) and a bounded set of keys; none scans a collection.
"""

from __future__ import annotations

import logging

import numpy as np

from ..documents.filters import Filter
from ..errors import IndexStoreError
from .milvus_link import MAX_TOPK, filter_expression, quote, visible
from .neighbourhood import ARTICLE, PAYLOAD, POSITION, Neighbourhood, assemble
from .terms import Statistics, TermIndex, postings

log = logging.getLogger(__name__)

# Milvus's BM25 top list is rescored here with the corpus's statistics and qa's k1/b: taking
# three times as many as ranking keeps the exact top list covered (measured on squad-dev-a:
# bench/RESULTS.md, "Scaling out"), at the cost of their token strings in one reply.
BM25_OVERFETCH = 3
VIEW_ROWS = 16_384  # sentences one query of a view returns at most (Milvus's query result limit)
VIEW_KEYS = 1_024  # articles, ids or text keys in one expression of a view: a few tens of KB
HIT_FIELDS = [*POSITION, *ARTICLE]
WORD_FIELDS = [*POSITION, "tokens", "rest"]
DETAIL_FIELDS = [*PAYLOAD, "text", "vector", "tokens", "rest"]


def fetch(store, query: np.ndarray | None, tokens: tuple[str, ...], depth: int, filter: Filter | None,
          dense: bool = True, lexical: bool = True, whole: bool = False) -> Neighbourhood:
    """The neighbourhood of one question in ``store`` (a ``MilvusStore``) at its generation;
    ``whole``: the candidates' articles whole instead of their paragraphs (what a learned
    re-ranker reads: every sentence's cosine, the sentence after each, the article's words)."""
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
    asked_words = [t for t in tokens if df_s.get(t, 0) > 0]
    rows: dict[int, dict] = {}  # every sentence row read, by id
    recorded, asked, dense_ids = None, 0, []
    if dense and n:  # 2.
        asked, limit = depth, min(depth, n)  # as the local store: min(k, len) columns
        if limit > MAX_TOPK:
            raise IndexStoreError(f"Milvus returns at most {MAX_TOPK} hits a query; ask for fewer than "
                                  f"{limit} candidates (fewer hits, or a smaller Settings.depth)")
        found = link.call("search", lambda c: c.search(
            spec.sentences, data=[np.asarray(query, np.float32).reshape(-1).tolist()], limit=limit, filter=expr,
            output_fields=HIT_FIELDS, anns_field="vector", search_params=link.search_params(limit)))
        trips += 1
        pairs = sorted(((float(h["distance"]), _entity(h)) for h in found[0]), key=lambda p: -p[0])[:limit]
        recorded = (np.full((1, limit), -np.inf, np.float32), np.full((1, limit), -1, np.int64))
        for j, (score, row) in enumerate(pairs):
            recorded[0][0, j], recorded[1][0, j] = score, int(row["id"])
            rows[int(row["id"])] = row
        dense_ids = [int(r["id"]) for _, r in pairs]
    elif n and n <= depth:  # ranking's BM25 mode takes every sentence of a corpus this small
        rows.update((int(r["id"]), r) for r in link.query(spec.sentences, expr, HIT_FIELDS, depth, "list the sentences"))
        trips += 1
    best: list[int] = []
    if lexical and asked_words and n:  # 3.
        shortlist = min(depth * BM25_OVERFETCH, MAX_TOPK, n)
        found = link.call("search BM25", lambda c: c.search(
            spec.sentences, data=[" ".join(asked_words)], limit=shortlist, filter=expr,
            output_fields=[*HIT_FIELDS, "tokens"], anns_field="sparse", search_params={"metric_type": "BM25"}))
        trips += 1
        listed = [_entity(h) for h in found[0]]
        best = [int(listed[i]["id"]) for i in _best(_scores(listed, tokens, words, sentence_stats), depth)]
        kept = set(best)
        rows.update((int(r["id"]), r) for r in listed if int(r["id"]) in kept)
    complete = {}
    for r in rows.values():
        complete.setdefault(int(r["article"]), {k: r[k] for k in ARTICLE})
    small = sum(int(m["total"]) for m in complete.values()) <= depth
    if complete and (small or (lexical and asked_words)):  # 4.
        for batch in _batches({a: int(m["total"]) for a, m in complete.items()}):
            where = f"{shown} and article in [{', '.join(map(str, batch))}]"
            limit = sum(int(complete[a]["total"]) for a in batch)
            if small:  # every sentence: ranking may take them all
                found = link.query(spec.sentences, where, WORD_FIELDS, limit, "read the candidates' articles")
            else:
                found = [_entity(h) for h in link.call("search BM25", lambda c: c.search(
                    spec.sentences, data=[" ".join(asked_words)], limit=min(limit, MAX_TOPK), filter=where,
                    output_fields=WORD_FIELDS, anns_field="sparse", search_params={"metric_type": "BM25"}))[0]]
            trips += 1
            for r in found:
                rows[int(r["id"])] = {**rows.get(int(r["id"]), {}), **r}
    # Ranking's candidates, a superset: the dense hits, the best BM25 rows (ties kept) and a small view whole.
    worded = [r for r in rows.values() if r.get("tokens") is not None]
    wanted = set(dense_ids) | set(best)
    if lexical and worded:
        wanted |= {int(worded[i]["id"]) for i in _best(_scores(worded, tokens, words, sentence_stats), depth)}
    if small:
        wanted |= set(rows)
    totals = {a: int(m["total"]) for a, m in complete.items()} if whole else None
    details = _details(link, shown, [rows[i] for i in sorted(wanted)], totals)  # 5.
    trips += details.pop(None)
    for key, row in details.items():
        rows[key] = {**rows.get(key, {}), **row}
    return assemble(rows, complete, words, sentence_stats, article_stats, store.model, store.dimension, generation,
                    None if query is None else np.asarray(query, np.float32).reshape(-1), recorded, filter, asked, trips,
                    wanted)


def _scores(rows: list[dict], tokens, words, stats: Statistics) -> np.ndarray:
    """Exact BM25 (the corpus's statistics, qa's k1/b) of rows read with their tokens."""
    lists, lengths = postings([r["tokens"].split() for r in rows], words)
    index = TermIndex(len(rows), lists, lengths, stats)
    return index.scores(index.ids(tokens))


def _details(link, shown: str, candidates: list[dict], whole: dict[int, int] | None = None) -> dict:
    """The candidates' paragraphs whole and the sentence before each (or, with ``whole``, the
    sentence counts of their articles: those articles whole), and every sentence that repeats
    one's text, by id; key None: how many round trips that took."""
    if whole is not None:
        articles = {int(r["article"]) for r in candidates}
        parts = [f"article in [{', '.join(map(str, batch))}]" for batch in _batches({a: whole[a] for a in articles})]
    else:
        wanted: dict[int, tuple[set, set]] = {}
        for r in candidates:
            paragraphs, numbers = wanted.setdefault(int(r["article"]), (set(), set()))
            paragraphs.add(int(r["paragraph"]))
            if int(r["number"]) > 1:
                numbers.add(int(r["number"]) - 1)
        clauses = [f"(article == {a} and (paragraph in [{', '.join(map(str, sorted(p)))}]"
                   + (f" or number in [{', '.join(map(str, sorted(m)))}]" if m else "") + "))"
                   for a, (p, m) in sorted(wanted.items())]
        parts = [" or ".join(clauses[lo:lo + VIEW_KEYS]) for lo in range(0, len(clauses), VIEW_KEYS)]
    same = sorted({int(r["same"]) for r in candidates})
    repeats = [f"same in [{', '.join(map(str, same[lo:lo + VIEW_KEYS]))}]" for lo in range(0, len(same), VIEW_KEYS)]
    out: dict = {None: 0}
    # A part and a list of text keys share a query: one round trip where a question's rows fit one reply.
    for i in range(max(len(parts), len(repeats))):
        part, keys = (parts[i] if i < len(parts) else None), (repeats[i] if i < len(repeats) else None)
        terms = [f"({t})" for t in (part, keys) if t]
        found = link.query(link.spec.sentences, f"{shown} and ({' or '.join(terms)})", DETAIL_FIELDS, VIEW_ROWS,
                           "read the candidates' paragraphs and repeated sentences")
        out[None] += 1
        if len(found) == VIEW_ROWS and part and keys:  # repeats of a candidate filled the reply: the part alone
            log.warning("over %d sentences repeat a question's candidates: some are left out of their sources", VIEW_ROWS)
            found += link.query(link.spec.sentences, f"{shown} and ({part})", DETAIL_FIELDS, VIEW_ROWS,
                                "read the candidates' paragraphs")
            out[None] += 1
        out.update((int(r["id"]), dict(r)) for r in found)
    return out


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
