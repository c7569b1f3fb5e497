"""One change of a Milvus store, committed: steps 1-5 of ``qa.store.milvus``'s docstring.

Reads only what the change touches: the articles it replaces or removes (``old``: their
text and spans, to retire their rows and subtract their words), and the word counts it
moves. Writes the new rows invisible, retires the old ones, then the manifest.
"""

from __future__ import annotations

import numpy as np

from ..documents.sentences import Span
from ..errors import IndexStoreError, ModelMismatchError
from .corpus import Corpus, spans_array
from .milvus_link import ID_BATCH, NEVER, quote, visible
from .milvus_rows import article_keys, article_rows, listed, sentence_rows, term_rows
from .milvus_view import VIEW_ROWS
from .terms import Tally

COUNTS = ("sentences", "articles", "sentence_tokens", "article_tokens")


def check_added(add, dimension: int) -> None:
    """Refuse, before anything is written, what a Milvus store cannot hold or answer from."""
    for doc, spans, vectors in add:
        vectors = np.asarray(vectors)
        if len(spans) > VIEW_ROWS:  # a question's view reads an article's rows in one reply
            raise IndexStoreError(f"{doc.path}: {len(spans)} sentences, more than the Milvus store reads in one "
                                  f"reply ({VIEW_ROWS}); split it into smaller documents")
        if len(spans) != len(vectors):
            raise IndexStoreError(f"{doc.path}: {len(spans)} sentences but {len(vectors)} vectors")
        if len(vectors) and vectors.reshape(len(vectors), -1).shape[1] != dimension:
            raise ModelMismatchError(f"vectors of dimension {vectors.reshape(len(vectors), -1).shape[1]} cannot "
                                     f"join an index of dimension {dimension}")


def plan(old: Corpus, add) -> tuple[list, set[str]]:
    """What of ``add`` must be written (the unchanged articles keep their rows: see
    ``qa.store.milvus``), and the paths whose same text comes with new spans or metadata:
    their new rows would take the old ones' ids, so they are removed a generation first."""
    paths, rows = old.paths, old.doc_rows()
    fresh, collide = [], set()
    for doc, spans, vectors in add:
        r = paths.get(doc.path)
        if r is not None and old.documents[r].sha256 == doc.sha256:
            same_spans = np.array_equal(old.spans[rows[r]:rows[r + 1], 1:], spans_array(0, spans)[:, 1:])
            if old.documents[r] == doc and same_spans:
                continue
            collide.add(doc.path)
        fresh.append((doc, spans, vectors))
    return fresh, collide


def commit(store, add, remove: set[str], old: Corpus | None) -> tuple[int, dict, tuple | None]:
    """Write generation G + 1 of ``store`` (at G): ``add`` (document, spans, vectors) added or
    replacing the article of the same path, ``remove`` dropped; ``old`` is what ``store``
    holds under those paths (read here when None). Returns (generation, counts, listing)."""
    link, spec = store._link, store._link.spec
    current = store.generation
    meta = link.read_meta()  # 1.
    if meta is None or int(meta["generation"]) != current:
        raise IndexStoreError(
            f"the Milvus store at {spec.where} is at generation {meta and meta['generation']}, this copy at {current}: "
            f"another writer changed it; reopen it and apply the change again")
    nxt = current + 1
    replaced = {doc.path for doc, _, _ in add}
    if old is None:
        old = store._touched(replaced | remove)
    for name in (spec.sentences, spec.articles, spec.terms):  # 2.
        link.delete(name, f"born > {current}", "clear an interrupted build")
        stale = [r["id"] for page in link.pages(name, f"dead > {current} and dead < {NEVER}", ["id"],
                                                "find an interrupted build's retirements") for r in page]
        link.set_dead(name, stale, NEVER)
        link.delete(name, f"dead < {current}", "drop retired rows")
    rows = old.doc_rows()
    gone = [r for r, d in enumerate(old.documents) if d.path in remove or d.path in replaced]
    added, removed = Tally(), Tally()
    for doc, spans, _ in add:
        added.add(doc, spans)
    for r in gone:
        removed.add(old.documents[r], [Span(int(s), int(e), int(p), bool(h))
                                       for _, s, e, p, h in old.spans[rows[r]:rows[r + 1]].tolist()])
    words = sorted(set(added.sentence_df) | set(added.article_df) | set(removed.sentence_df) | set(removed.article_df))
    delta = {w: (added.sentence_df[w] - removed.sentence_df[w], added.article_df[w] - removed.article_df[w])
             for w in words}
    moved = [w for w in words if delta[w] != (0, 0)]
    before = _term_rows(link, visible(current), moved)
    values = {}
    for w in moved:
        key, s, a = before.get(w, (None, 0, 0))
        s, a = s + delta[w][0], a + delta[w][1]
        if s < 0 or a < 0:
            raise IndexStoreError(f"the Milvus store at {spec.where} counts fewer sentences holding {w!r} than this "
                                  f"change removes; rebuild it")
        if s or a:
            values[w] = (s, a)
    # 3. the new rows, invisible until the manifest names `nxt`
    link.write(spec.articles, (row for i, (doc, spans, _) in enumerate(add)
                               for row in article_rows(doc, spans, seq=(nxt << 32) + i, born=nxt)), "write articles")
    link.write(spec.sentences, (row for i, (doc, spans, vectors) in enumerate(add)
                                for row in sentence_rows(doc, spans, vectors, nxt, seq=(nxt << 32) + i)),
               "write sentences")
    link.write(spec.terms, term_rows(values, nxt), "write word counts")
    # 4. retire the old versions of replaced and removed documents, and the word counts that moved
    link.set_dead(spec.sentences, np.concatenate([old.ids[rows[r]:rows[r + 1]] for r in gone] or [[]]), nxt)
    link.set_dead(spec.articles, [key for r in gone for key in article_keys(old.documents[r])], nxt)
    link.set_dead(spec.terms, [before[w][0] for w in moved if w in before], nxt)
    # 5. the commit
    counts = {name: int(meta[name]) for name in COUNTS}
    counts["sentences"] += added.sentences - removed.sentences
    counts["articles"] += added.articles - removed.articles
    counts["sentence_tokens"] += added.sentence_tokens - removed.sentence_tokens
    counts["article_tokens"] += added.article_tokens - removed.article_tokens
    link.write_meta(model=store.model, dimension=store.dimension, generation=nxt,
                    persisted=int(meta.get("persisted") or 0), **counts)
    return nxt, counts, _carried(store, add, {old.documents[r].path for r in gone})


def _term_rows(link, shown: str, words: list[str]) -> dict[str, tuple[int, int, int]]:
    """The word counts of ``words`` at the visible generation: {word: (row id, sentences, articles)}."""
    out = {}
    for lo in range(0, len(words), ID_BATCH):
        batch = words[lo:lo + ID_BATCH]
        expr = f"{shown} and term in [{', '.join(quote(w) for w in batch)}]"
        for r in link.query(link.spec.terms, expr, ["id", "term", "sentences", "articles"], len(batch),
                            "read the word counts a change moves"):
            out[r["term"]] = (int(r["id"]), int(r["sentences"]), int(r["articles"]))
    return out


def _carried(store, add, gone: set[str]):
    """The next generation's listing from this one's, where this one was read: no new scan."""
    listing = store._cache.get("listing")
    if listing is None:
        return None
    documents, sentences = listing
    kept = [d for d in documents if d.path not in gone]
    fresh = [listed({"path": d.path, "title": d.title, "sha256": d.sha256, "body_start": d.body_start,
                     "date": d.date or "", "source": d.source or "", "kind": d.kind}) for d, _, _ in add]
    counts = {p: n for p, n in sentences.items() if p not in gone}
    counts.update({d.path: len(spans) for d, spans, _ in add})
    return tuple(kept + fresh), counts
