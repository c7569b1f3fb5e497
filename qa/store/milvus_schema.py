"""The layout of qa's Milvus collections (``FORMAT`` in ``qa.store.milvus_link``).

Four collections, named ``PREFIX_...``; what each field is for is in ``qa.store.milvus``'s
docstring. Every collection has a vector field because Milvus refuses one without (the
2-d placeholder in ``articles``, ``terms`` and ``meta``), and every scalar a filter names
has an INVERTED index, the scalar index both Milvus and milvus-lite build.
"""

from __future__ import annotations

from .milvus_link import MAX_VARCHAR, Link

SENTENCE_FIELDS = [("article", "int"), ("seq", "int"), ("total", "int"), ("words", "int"), ("doc", "str"),
                   ("title", "str"), ("source", "str"), ("source_key", "str"), ("date", "str"), ("number", "int"),
                   ("paragraph", "int"), ("start", "int"), ("end", "int"), ("heading", "bool"), ("same", "int"),
                   ("text", "str"), ("rest", "str"), ("born", "int"), ("dead", "int")]
ARTICLE_FIELDS = [("article", "int"), ("chunk", "int"), ("chunks", "int"), ("seq", "int"), ("sentences", "int"),
                  ("path", "str"), ("sha256", "str"), ("title", "str"), ("source", "str"), ("source_key", "str"),
                  ("date", "str"), ("kind", "str"), ("body_start", "int"), ("text", "str"), ("born", "int"),
                  ("dead", "int")]
TERM_FIELDS = [("term", "str"), ("sentences", "int"), ("articles", "int"), ("born", "int"), ("dead", "int")]
META_SCHEMA = [("model", "str"), ("dimension", "int"), ("generation", "int"), ("format", "int"), ("sentences", "int"),
               ("articles", "int"), ("persisted", "int"), ("sentence_tokens", "int"), ("article_tokens", "int")]
SENTENCE_INDEXED = ("article", "source_key", "date", "same", "born", "dead")
ARTICLE_INDEXED = ("article", "chunk", "path", "born", "dead")
TERM_INDEXED = ("term", "born", "dead")


def create_missing(link: Link, dimension: int) -> None:
    """Create whichever collection is missing (meta last: it marks a complete set), and load them."""
    from pymilvus import DataType, Function, FunctionType, MilvusClient

    from ..documents.tokens import B, K1

    spec = link.spec

    def schema(vector_dim: int, fields, sparse: bool = False):
        s = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        s.add_field("id", DataType.INT64, is_primary=True)
        s.add_field("vector", DataType.FLOAT_VECTOR, dim=vector_dim)
        for name, kind in fields:
            if kind == "str":
                s.add_field(name, DataType.VARCHAR, max_length=MAX_VARCHAR)
            else:
                s.add_field(name, {"int": DataType.INT64, "bool": DataType.BOOL}[kind])
        if sparse:
            # qa sends its own stemmed, stopword-free tokens (qa.documents.tokens.tokenize) as
            # the text: the standard tokenizer only splits them again, the same on every engine.
            s.add_field("tokens", DataType.VARCHAR, max_length=MAX_VARCHAR, enable_analyzer=True,
                        analyzer_params={"tokenizer": "standard"})
            s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
            s.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                    input_field_names=["tokens"], output_field_names=["sparse"]))
        return s

    def indexes(client, vector: bool, scalars, sparse: bool = False):
        params = client.prepare_index_params()
        if vector:
            extra = {"HNSW": {"M": 16, "efConstruction": 200}, "IVF_FLAT": {"nlist": 1024}, "IVF_SQ8": {"nlist": 1024}}.get(spec.index, {})
            params.add_index("vector", index_type=spec.index, metric_type="IP", params=extra)
        else:  # a placeholder vector (Milvus wants one in every collection): exact and tiny
            params.add_index("vector", index_type="FLAT", metric_type="IP")
        for name in scalars:
            params.add_index(name, index_type="INVERTED")
        if sparse:
            params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                             params={"bm25_k1": K1, "bm25_b": B})
        return params

    plan = ((spec.sentences, schema(dimension, SENTENCE_FIELDS, sparse=True), True, SENTENCE_INDEXED, True),
            (spec.articles, schema(2, ARTICLE_FIELDS), False, ARTICLE_INDEXED, False),
            (spec.terms, schema(2, TERM_FIELDS), False, TERM_INDEXED, False),
            (spec.meta, schema(2, META_SCHEMA), False, (), False))

    def create(client):
        for name, s, vector, scalar_fields, sparse in plan:
            if not client.has_collection(name):
                client.create_collection(name, schema=s, num_shards=spec.shards, consistency_level="Strong")
                # Not waiting on each index: pymilvus polls every 0.5 s, and an empty collection's
                # indexes are ready at once (the load below waits for them where it must).
                client.create_index(name, indexes(client, vector, scalar_fields, sparse), sync=False)
        link.load(client)

    link.call("create the collections", create)
