"""Rows of qa's Milvus collections: documents and sentences out, the corpus back in.

What ``qa.store.milvus`` writes and how it rebuilds a ``Corpus`` from Milvus alone. Keys are
content-addressed (``key63`` over path, sha256 and position), so writing the same article
twice upserts the same rows: a re-run after a crash cannot duplicate anything.
"""

from __future__ import annotations

import numpy as np

from ..documents.loading import Document, text_sha256
from ..documents.sentences import Span
from ..errors import IndexStoreError
from .corpus import Corpus, document_ids
from .milvus_link import CHUNK_CHARS, NEVER, Link, key63

ARTICLE_FIELDS = ["article", "chunk", "chunks", "seq", "path", "sha256", "title", "source", "date", "kind",
                  "body_start", "text"]
SPAN_FIELDS = ["id", "article", "number", "start", "end", "paragraph", "heading"]
ARTICLE_PAGE = 256  # article rows hold up to 64 KB of text each: a page stays under 16 MB


def article_key(doc: Document) -> int:
    return key63("article", doc.path, doc.sha256)


def _pieces(text: str) -> list[str]:
    return [text[i:i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS)] or [""]


def article_keys(doc: Document) -> list[int]:
    """The primary keys of a document's rows in the articles collection."""
    return [key63("chunk", doc.path, doc.sha256, i) for i in range(len(_pieces(doc.text)))]


def article_rows(doc: Document, seq: int, born: int) -> list[dict]:
    """A document's rows in the articles collection: its metadata and text, in chunks."""
    for name, value in (("path", doc.path), ("title", doc.title), ("source", doc.source or "")):
        if len(value) > CHUNK_CHARS:
            raise IndexStoreError(f"{doc.path}: its {name} is over {CHUNK_CHARS} characters, more than Milvus holds in a field; shorten it")
    pieces, keys = _pieces(doc.text), article_keys(doc)
    common = {"vector": [1.0, 0.0], "article": article_key(doc), "chunks": len(pieces), "seq": seq, "path": doc.path,
              "sha256": doc.sha256, "title": doc.title, "source": doc.source or "",
              "source_key": (doc.source or "").casefold(), "date": doc.date or "", "kind": doc.kind,
              "body_start": doc.body_start, "born": born, "dead": NEVER}
    return [{"id": key, "chunk": i, "text": piece, **common} for i, (key, piece) in enumerate(zip(keys, pieces))]


def sentence_rows(doc: Document, spans: list[Span], vectors: np.ndarray, born: int, tokenize) -> list[dict]:
    """A document's rows in the sentences collection: id, vector, payload, BM25 tokens."""
    vectors = np.asarray(vectors, dtype=np.float32).reshape(len(spans), -1)
    ids = document_ids(doc, len(spans)).tolist()
    common = {"article": article_key(doc), "doc": doc.path, "title": doc.title, "source": doc.source or "",
              "source_key": (doc.source or "").casefold(), "date": doc.date or "", "born": born, "dead": NEVER}
    rows = []
    for n, (key, span, vector) in enumerate(zip(ids, spans, vectors), start=1):
        tokens = " ".join(tokenize(doc.text[span.start:span.end]))
        if len(tokens) > CHUNK_CHARS:  # only BM25 reads them: a cut at a space loses a few words' weight
            tokens = tokens[:tokens.rfind(" ", 0, CHUNK_CHARS)]
        rows.append({"id": key, "vector": vector.tolist(), "number": n, "paragraph": span.paragraph, "start": span.start,
                     "end": span.end, "heading": bool(span.heading), "tokens": tokens, **common})
    return rows


def load_corpus(link: Link, expr: str, where: str) -> Corpus:
    """The corpus of the rows ``expr`` admits, rebuilt from the articles and sentences
    collections in pages (no documents folder needed); ``IndexStoreError`` if they disagree."""
    spec = link.spec

    def broken(what: str) -> IndexStoreError:
        return IndexStoreError(f"the Milvus store at {where} is inconsistent ({what}); rebuild it")

    articles: dict[int, dict] = {}
    for page in link.pages(spec.articles, expr, ARTICLE_FIELDS, "read the articles", page=ARTICLE_PAGE):
        for row in page:
            entry = articles.setdefault(int(row["article"]), {"row": row, "parts": {}})
            entry["parts"][int(row["chunk"])] = row["text"]
    documents, row_of = [], {}
    for key, entry in sorted(articles.items(), key=lambda item: int(item[1]["row"]["seq"])):
        row, parts = entry["row"], entry["parts"]
        if sorted(parts) != list(range(int(row["chunks"]))):
            raise broken(f"{row['path']} has {len(parts)} of its {row['chunks']} text chunks")
        text = "".join(parts[i] for i in range(len(parts)))
        if text_sha256(text) != row["sha256"]:
            raise broken(f"the text of {row['path']} does not match its sha256")
        row_of[key] = len(documents)
        documents.append(Document(path=row["path"], title=row["title"], text=text, sha256=row["sha256"],
                                  body_start=int(row["body_start"]), date=row["date"] or None,
                                  source=row["source"] or None, kind=row["kind"]))
    columns: dict[str, list] = {name: [] for name in SPAN_FIELDS}
    for page in link.pages(spec.sentences, expr, SPAN_FIELDS, "read the sentences"):
        for row in page:
            for name in SPAN_FIELDS:
                columns[name].append(row[name])
    ids = np.asarray(columns["id"], dtype=np.int64)
    doc_row = np.fromiter((row_of.get(int(a), -1) for a in columns["article"]), dtype=np.int64, count=len(ids))
    if (doc_row < 0).any():
        raise broken(f"{int((doc_row < 0).sum())} sentences belong to no article")
    number = np.asarray(columns["number"], dtype=np.int64)
    order = np.lexsort((number, doc_row))
    spans = np.stack([doc_row, np.asarray(columns["start"]), np.asarray(columns["end"]),
                      np.asarray(columns["paragraph"]), np.asarray(columns["heading"], dtype=np.int64)], axis=1)
    corpus = Corpus(tuple(documents), spans[order].astype(np.int32).reshape(-1, 5))
    starts = corpus.doc_rows()
    expected = np.arange(len(ids)) - starts[doc_row[order]] + 1
    if not np.array_equal(number[order], expected):
        raise broken("some article's sentences are missing or repeated")
    if not np.array_equal(corpus.ids, ids[order]):
        raise broken("sentence ids do not match their articles")
    return corpus
