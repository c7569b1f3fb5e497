"""Rows of qa's Milvus collections: documents and sentences out, documents and corpora back in.

What ``qa.store.milvus`` writes, and how it reads articles back: a listing of their metadata
(no text), one article with its text, or the ``Corpus`` of some articles (what a change
replaces; the whole corpus only when asked for, ``MilvusStore.corpus``). Keys are
content-addressed (``key63`` over path, sha256 and position), so writing the same article
twice upserts the same rows: a re-run after a crash cannot duplicate anything.
"""

from __future__ import annotations

import numpy as np

from ..documents.loading import Document, text_sha256
from ..documents.sentences import Span
from ..documents.tokens import normalized
from ..errors import IndexStoreError
from .corpus import Corpus, document_ids
from .milvus_link import CHUNK_CHARS, ID_BATCH, NEVER, Link, key63
from .terms import article_tokens

LISTING_FIELDS = ["article", "seq", "sentences", "path", "sha256", "title", "source", "date", "kind", "body_start"]
ARTICLE_FIELDS = ["article", "chunk", "chunks", "seq", "path", "sha256", "title", "source", "date", "kind",
                  "body_start", "text"]
SPAN_FIELDS = ["id", "article", "number", "start", "end", "paragraph", "heading"]
ARTICLE_PAGE = 256  # article rows hold up to 64 KB of text each: a page stays under 16 MB


def article_key(doc: Document) -> int:
    return key63("article", doc.path, doc.sha256)


def same_key(text: str) -> int:
    """The key of a sentence's text up to spacing and case (``normalized``): duplicates share it."""
    return key63("same", normalized(text))


def term_key(term: str, generation: int) -> int:
    """A term's row as generation ``generation`` wrote it (each generation writes its own)."""
    return key63("term", term, generation)


def _pieces(text: str) -> list[str]:
    return [text[i:i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS)] or [""]


def article_keys(doc: Document) -> list[int]:
    """The primary keys of a document's rows in the articles collection."""
    return [key63("chunk", doc.path, doc.sha256, i) for i in range(len(_pieces(doc.text)))]


def article_rows(doc: Document, spans: list[Span], seq: int, born: int) -> list[dict]:
    """A document's rows in the articles collection: its metadata and text, in chunks."""
    for name, value in (("path", doc.path), ("title", doc.title), ("source", doc.source or "")):
        if len(value) > CHUNK_CHARS:
            raise IndexStoreError(f"{doc.path}: its {name} is over {CHUNK_CHARS} characters, more than Milvus holds in a field; shorten it")
    pieces, keys = _pieces(doc.text), article_keys(doc)
    common = {"vector": [1.0, 0.0], "article": article_key(doc), "chunks": len(pieces), "seq": seq,
              "sentences": len(spans), "path": doc.path, "sha256": doc.sha256, "title": doc.title,
              "source": doc.source or "", "source_key": (doc.source or "").casefold(), "date": doc.date or "",
              "kind": doc.kind, "body_start": doc.body_start, "born": born, "dead": NEVER}
    return [{"id": key, "chunk": i, "text": piece, **common} for i, (key, piece) in enumerate(zip(keys, pieces))]


def _cut(tokens: str) -> str:
    # Only BM25 reads them: a cut at a space loses a few words' weight, in sentences of 16,000 characters.
    if len(tokens) <= CHUNK_CHARS:
        return tokens
    cut = tokens.rfind(" ", 0, CHUNK_CHARS + 1)
    return tokens[:cut] if cut > 0 else ""  # one token longer than a field: no word a question would ask


def sentence_rows(doc: Document, spans: list[Span], vectors: np.ndarray, born: int, seq: int) -> list[dict]:
    """A document's rows in the sentences collection: id, vector, payload, text, BM25 tokens.

    ``text`` is the sentence and what separates it from the next sentence of its paragraph,
    so that a view holding a paragraph's sentences rebuilds its text exactly (a hit's
    context); ``rest`` the article's words outside its sentences (on every row, as the title
    is: whichever of an article's rows a question reads, its article BM25 is whole).
    """
    vectors = np.asarray(vectors, dtype=np.float32).reshape(len(spans), -1)
    ids = document_ids(doc, len(spans)).tolist()
    tokens, rest, words = article_tokens(doc, spans)
    common = {"article": article_key(doc), "seq": seq, "total": len(spans), "words": words, "rest": _cut(" ".join(rest)),
              "doc": doc.path,
              "title": doc.title, "source": doc.source or "", "source_key": (doc.source or "").casefold(),
              "date": doc.date or "", "born": born, "dead": NEVER}
    rows = []
    for n, (key, span, vector) in enumerate(zip(ids, spans, vectors), start=1):
        if span.end - span.start > CHUNK_CHARS:
            raise IndexStoreError(f"{doc.path}: sentence {n} is over {CHUNK_CHARS} characters, more than Milvus "
                                  f"holds in a field; split it (qa.documents.sentences cuts at 1,000)")
        following = spans[n] if n < len(spans) else None
        stop = following.start if following is not None and following.paragraph == span.paragraph else span.end
        stop = min(max(stop, span.end), span.start + CHUNK_CHARS)
        rows.append({"id": key, "vector": vector.tolist(), "number": n, "paragraph": span.paragraph,
                     "start": span.start, "end": span.end, "heading": bool(span.heading),
                     "same": same_key(doc.text[span.start:span.end]), "text": doc.text[span.start:stop],
                     "tokens": _cut(" ".join(tokens[n - 1])), **common})
    return rows


def term_rows(values: dict[str, tuple[int, int]], born: int) -> list[dict]:
    """Rows of the terms collection: per word, the sentences and articles holding it."""
    return [{"id": term_key(term, born), "vector": [1.0, 0.0], "term": term, "sentences": s, "articles": a,
             "born": born, "dead": NEVER} for term, (s, a) in sorted(values.items())]


def listed(row: dict) -> Document:
    """A document of a listing: its metadata and sha256, without its text (``text`` is "")."""
    return Document(path=row["path"], title=row["title"], text="", sha256=row["sha256"],
                    body_start=int(row["body_start"]), date=row["date"] or None, source=row["source"] or None,
                    kind=row["kind"])


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


def load_articles(link: Link, visible: str, keys: list[int], where: str) -> Corpus:
    """The corpus of the articles ``keys`` (``ID_BATCH`` keys an expression): what a change touches."""
    parts = [load_corpus(link, f"{visible} and article in [{', '.join(str(k) for k in keys[lo:lo + ID_BATCH])}]", where)
             for lo in range(0, len(keys), ID_BATCH)]
    if len(parts) == 1:
        return parts[0]
    corpus = Corpus()
    for part in parts:
        corpus, _ = corpus.changed([(d, _spans(part, r)) for r, d in enumerate(part.documents)])
    return corpus


def _spans(corpus: Corpus, row: int) -> list[Span]:
    rows = corpus.doc_rows()
    return [Span(int(s), int(e), int(p), bool(h)) for _, s, e, p, h in corpus.spans[rows[row]:rows[row + 1]].tolist()]
