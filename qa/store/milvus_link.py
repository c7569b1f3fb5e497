"""The wire under ``qa.store.milvus``: store specs, the client, errors, schemas and rows.

Nothing here decides what a generation holds; ``qa.store.milvus`` does. This module knows
how to reach Milvus (embedded milvus-lite or a server), how qa's collections are reached
(their layout is ``qa.store.milvus_schema``), and how to turn every client failure into one readable ``IndexStoreError``.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import threading
import urllib.parse
from dataclasses import dataclass

from ..documents.filters import Filter
from ..errors import IndexStoreError, StoreUnavailableError

NEVER = 1 << 62  # ``dead`` of a row no generation has retired
FORMAT = 2  # layout of the collections; bump on an incompatible change (2: terms, sentence text and same-text keys)
MAX_VARCHAR = 65_535  # Milvus's limit for a VARCHAR field, in bytes
CHUNK_CHARS = 16_000  # article text per row: 4 bytes a character at most keeps a chunk under the limit
MAX_TOPK = 16_384  # Milvus's limit on hits per query (milvus-lite does not enforce it)
WRITE_ROWS = 512  # rows per insert/upsert call: a few MB of gRPC message at dimension 384
ID_BATCH = 1_024  # primary keys per get/upsert-by-id call: keeps the ``id in [...]`` expression short
PAGE_ROWS = 4_096  # rows per query-iterator page, where rows are listed (documents, a change's clean-up)
META_ID = 1
META_FIELDS = ("model", "dimension", "generation", "format", "sentences", "articles", "persisted",
               "sentence_tokens", "article_tokens")
INDEXES = ("FLAT", "HNSW", "IVF_FLAT", "IVF_SQ8", "AUTOINDEX")
OPTIONS = ("prefix", "index", "shards", "replicas", "timeout")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,200}")
_UNREACHABLE = ("fail connecting", "server unavailable", "unavailable", "connection refused", "deadline exceeded",
                "failed to connect", "socket closed", "connection reset")
_AUTH = ("unauthenticated", "authenticat", "credential", "permission denied", "password", "privilege")
# What pymilvus's import installs on its loggers (pymilvus.settings.init_log): recognised by format.
_PYMILVUS_FORMATS = ("%(asctime)s [%(levelname)s][%(funcName)s]: %(message)s (%(filename)s:%(lineno)s)",
                     "%(asctime)s | %(levelname)s: %(message)s (%(filename)s:%(lineno)s) (%(process)s)")


def key63(*parts) -> int:
    """63 bits of sha256 over ``parts``: an INT64 primary key that survives any other change."""
    text = "\0".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()[:8], "big") >> 1


@dataclass(frozen=True)
class MilvusSpec:
    """Where a Milvus store lives, parsed from ``milvus:PATH.db`` or ``milvus://HOST:PORT``.

    Options after ``?`` (``milvus://db:19530?shards=4&replicas=2&index=HNSW``): ``prefix`` of
    the collection names (default ``qa``), vector ``index`` (FLAT, exact like the local
    store; HNSW, IVF_FLAT, IVF_SQ8 (8-bit codes: a quarter of the memory) or AUTOINDEX on a cluster), ``shards`` and ``replicas`` to create
    and load the collections with, and the per-call ``timeout`` in seconds.

    >>> s = parse_spec("milvus://db.example:19530?prefix=news&shards=4")
    >>> s.uri, s.sentences, s.shards, s.embedded
    ('http://db.example:19530', 'news_sentences', 4, False)
    """

    spec: str
    uri: str
    embedded: bool
    prefix: str = "qa"
    index: str = "FLAT"
    shards: int = 1
    replicas: int = 1
    timeout: float = 30.0

    @property
    def sentences(self) -> str:
        return f"{self.prefix}_sentences"

    @property
    def articles(self) -> str:
        return f"{self.prefix}_articles"

    @property
    def terms(self) -> str:
        return f"{self.prefix}_terms"

    @property
    def meta(self) -> str:
        return f"{self.prefix}_meta"

    @property
    def collections(self) -> tuple[str, ...]:
        """Every collection of the store, the manifest last (it marks a complete set)."""
        return self.sentences, self.articles, self.terms, self.meta

    @property
    def where(self) -> str:
        """How errors name the store: the spec as given, options and all, less any
        ``user:password@`` in it (the token belongs in QA_MILVUS_TOKEN, never in a message)."""
        return _without_password(self.spec)


def _without_password(text: str) -> str:
    return re.sub(r"(//)[^/@]*@", r"\1", text)


def parse_spec(spec: str) -> MilvusSpec:
    """A ``MilvusSpec`` from its string; ``IndexStoreError`` saying what to write instead."""
    if not isinstance(spec, str) or not spec.startswith("milvus"):
        raise IndexStoreError(f"{spec!r} is not a Milvus store; write milvus:PATH.db or milvus://HOST:PORT")
    base, _, query = spec.partition("?")
    for scheme, http in (("milvus://", "http"), ("milvus+https://", "https")):
        if base.startswith(scheme):
            host = base[len(scheme):].rstrip("/")
            if not host or "/" in host:
                raise IndexStoreError(f"{spec}: name the server as milvus://HOST:PORT, e.g. milvus://127.0.0.1:19530")
            uri, embedded = f"{http}://{host if ':' in host.rsplit(']', 1)[-1] else host + ':19530'}", False
            break
    else:
        path = base[len("milvus:"):] if base.startswith("milvus:") else ""
        if not path.endswith(".db") or len(path) <= 3:
            raise IndexStoreError(f"{spec}: an embedded Milvus store is a path ending in .db, e.g. milvus:embeddings/news.db")
        uri, embedded = os.path.abspath(path), True
    values = {}
    for name, items in urllib.parse.parse_qs(query, keep_blank_values=True).items():
        if name not in OPTIONS:
            raise IndexStoreError(f"{spec}: unknown option {name!r}; use {', '.join(OPTIONS)}")
        values[name] = items[-1]
    try:
        prefix = values.get("prefix", "qa")
        index = values.get("index", "FLAT").upper()
        shards, replicas = int(values.get("shards", 1)), int(values.get("replicas", 1))
        timeout = float(values.get("timeout", 30))
    except ValueError:
        raise IndexStoreError(f"{spec}: shards and replicas are whole numbers and timeout is seconds, e.g. ?shards=4&timeout=30") from None
    if not _NAME.fullmatch(prefix):
        raise IndexStoreError(f"{spec}: prefix {prefix!r} must be letters, digits and _ (starting with a letter)")
    if index not in INDEXES:
        raise IndexStoreError(f"{spec}: index {index!r} is not one of {', '.join(INDEXES)}")
    if shards < 1 or replicas < 1 or not timeout > 0:
        raise IndexStoreError(f"{spec}: shards, replicas and timeout must be positive")
    return MilvusSpec(spec, uri, embedded, prefix, index, shards, replicas, timeout)


def quote(text: str) -> str:
    """A string literal for a Milvus filter expression (milvus-lite knows no \\u escapes)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t") + '"'


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


def one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def library_logging() -> None:
    """Give pymilvus's log records back to the application, as any library's are.

    Importing pymilvus installs stderr handlers on its loggers that write every failed RPC
    with its full traceback, past the application's logging. qa turns each failure into one
    line that says how to fix it, so the first connection swaps those handlers (recognised by
    their format) for a NullHandler and lets the records propagate: an application that logs
    pymilvus's warnings still sees them, nobody else gets a traceback.
    """
    for name in ("pymilvus", "pymilvus.milvus_client", "pymilvus.bulk_writer"):
        logger = logging.getLogger(name)
        own = [h for h in logger.handlers
               if isinstance(h, logging.StreamHandler) and getattr(h.formatter, "_fmt", None) in _PYMILVUS_FORMATS]
        if not own:
            continue
        for handler in own:
            logger.removeHandler(handler)
        logger.addHandler(logging.NullHandler())
        logger.propagate = True


def translate(err: BaseException, spec: MilvusSpec, doing: str) -> IndexStoreError:
    """One line for a failed call: what failed, where, and what to do about it."""
    code = getattr(err, "code", None)
    code = code() if callable(code) else code  # grpc errors carry it as a method
    details = getattr(err, "details", None)
    message = one_line(getattr(err, "message", None) or (details() if callable(details) else None) or err)
    low = f"{type(err).__name__} {message}".lower()
    if spec.embedded and any(s in low for s in ("open local milvus failed", "datadirlocked", "holds the lock")):
        return IndexStoreError(
            f"cannot open the embedded Milvus store {spec.uri}: another process has it open (milvus-lite lets one "
            f"process use a .db); close that one, or serve it with `milvus-lite server --data-dir {spec.uri}` "
            f"and use milvus://127.0.0.1:19530")
    if code == 2 or str(code).endswith("UNAVAILABLE") or str(code).endswith("DEADLINE_EXCEEDED") \
            or any(s in low for s in _UNREACHABLE):
        return StoreUnavailableError(
            f"cannot {doing}: no answer from Milvus at {spec.where}; is the Milvus server running at "
            f"{_without_password(spec.uri)}? Start it (or fix --store), then try again")
    if code in (1800, 1801) or str(code).endswith("UNAUTHENTICATED") or any(s in low for s in _AUTH):
        return IndexStoreError(f"cannot {doing}: Milvus at {spec.where} refused the credentials; set QA_MILVUS_TOKEN "
                               f"to a valid token (user:password or an API key)")
    return IndexStoreError(f"cannot {doing} in Milvus at {spec.where}: {message}")


class Link:
    """One client to one Milvus store, made on first use and shared by every generation."""

    def __init__(self, spec: MilvusSpec):
        self.spec = spec
        self._client = None
        self._lock = threading.Lock()

    def client(self):
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._connect()
        return self._client

    def _connect(self):
        try:
            from pymilvus import MilvusClient
        except ImportError:
            raise IndexStoreError("the Milvus store needs pymilvus and milvus-lite; install them with: pip install 'qa[milvus]'") from None
        library_logging()
        # Read at connect time, not import time: a long-lived app picks up a rotated token on reconnect.
        token = os.environ.get("QA_MILVUS_TOKEN", "")
        with self.errors("connect"):
            if self.spec.embedded:
                os.makedirs(os.path.dirname(self.spec.uri) or ".", exist_ok=True)
            # dedicated: a channel of our own, not pymilvus's process-wide one for this address,
            # so that closing it after a failure (see ``call``) starts afresh.
            return MilvusClient(uri=self.spec.uri, token=token, timeout=self.spec.timeout, dedicated=True)

    @contextlib.contextmanager
    def errors(self, doing: str):
        """Turn whatever the client raises into one ``IndexStoreError`` line."""
        try:
            yield
        except IndexStoreError:
            raise
        except Exception as err:  # pymilvus raises MilvusException, grpc RpcError, ValueError, OSError...
            raise translate(err, self.spec, doing) from None

    def call(self, doing: str, fn):
        """``fn(client)``, translated; a collection a restarted server forgot to load is loaded, once."""
        client = self.client()
        try:
            with self.errors(doing):
                try:
                    return fn(client)
                except Exception as err:
                    if "load()" not in str(err) and "not loaded" not in str(err).lower():
                        raise
                self.load(client)
                return fn(client)
        except StoreUnavailableError:
            # Next call, a new channel: a failed gRPC channel backs off for up to minutes, and
            # pymilvus's in-place recovery kept failing after a restarted server was back.
            self.close()
            raise

    def load(self, client) -> None:
        """Load the collections not loaded yet. A loaded one is left as it is: loading it again
        with another replica count makes Milvus refuse (older servers) or re-balance replicas
        (2.5+), so ``replicas=`` applies where a collection is first loaded."""
        from pymilvus.client.types import LoadState

        for name in self.spec.collections:  # one an older layout lacks is left to create_missing
            if client.has_collection(name) and client.get_load_state(name).get("state") != LoadState.Loaded:
                client.load_collection(name, replica_number=self.spec.replicas)

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()

    # -- rows ---------------------------------------------------------------------------

    def read_meta(self, known: bool = False) -> dict | None:
        """The manifest row, or None where there is none; ``known``: the collection was there
        when the store was opened (one call, not two, where it still is)."""
        fields = list(META_FIELDS)

        def read(client):
            if not known and not client.has_collection(self.spec.meta):
                return None
            try:
                rows = client.get(self.spec.meta, ids=[META_ID], output_fields=fields)
            except Exception as err:  # a manifest of an older layout lacks the newer fields
                if known and not client.has_collection(self.spec.meta):
                    return None
                if "field" not in str(err).lower():
                    raise
                rows = client.get(self.spec.meta, ids=[META_ID], output_fields=["format"])
            return dict(rows[0]) if rows else None

        return self.call("read the store's manifest", read)

    def write_meta(self, **values) -> None:
        row = {"id": META_ID, "vector": [1.0, 0.0], "format": FORMAT, **values}
        self.call("record the generation", lambda c: c.upsert(self.spec.meta, [row]))

    def write(self, collection: str, rows, doing: str) -> int:
        """Upsert ``rows`` (any iterable) ``WRITE_ROWS`` at a time; returns how many."""
        batch, count = [], 0
        for row in rows:
            batch.append(row)
            if len(batch) == WRITE_ROWS:
                self.call(doing, lambda c: c.upsert(collection, batch))
                count, batch = count + len(batch), []
        if batch:
            self.call(doing, lambda c: c.upsert(collection, batch))
        return count + len(batch)

    def set_dead(self, collection: str, ids, dead: int) -> None:
        """Mark rows retired at generation ``dead`` (a partial upsert: only ``dead`` changes)."""
        ids = [int(i) for i in ids]
        for lo in range(0, len(ids), ID_BATCH):
            batch = [{"id": i, "dead": dead} for i in ids[lo:lo + ID_BATCH]]
            self.call("retire replaced sentences", lambda c: c.upsert(collection, batch, partial_update=True))

    def delete(self, collection: str, expr: str, doing: str) -> None:
        self.call(doing, lambda c: c.delete(collection, filter=expr))

    def pages(self, collection: str, expr: str, fields: list[str], doing: str, page: int = PAGE_ROWS):
        """Every row ``expr`` matches, a page at a time (a query iterator: bounded round trips)."""
        iterator = self.call(doing, lambda c: c.query_iterator(collection, batch_size=page, filter=expr, output_fields=fields))
        try:
            while True:
                rows = self.call(doing, lambda c: iterator.next())
                if not rows:
                    return
                yield rows
        finally:
            with contextlib.suppress(Exception):
                iterator.close()

    def query(self, collection: str, expr: str, fields: list[str], limit: int, doing: str) -> list[dict]:
        """The rows ``expr`` matches, at most ``limit`` of them: one round trip, never a scan."""
        return self.call(doing, lambda c: c.query(collection, filter=expr, output_fields=fields, limit=limit))

    def get(self, collection: str, ids: list[int], fields: list[str], doing: str) -> list[dict]:
        out = []
        for lo in range(0, len(ids), ID_BATCH):
            batch = ids[lo:lo + ID_BATCH]
            out.extend(self.call(doing, lambda c: c.get(collection, ids=batch, output_fields=fields)))
        return out

    def flush(self) -> None:
        def flush(client):
            for name in self.spec.collections:
                client.flush(name)
        self.call("flush the collections", flush)

    def drop(self) -> None:
        def drop(client):
            for name in reversed(self.spec.collections):  # meta first: no half-set looks complete
                if client.has_collection(name):
                    client.drop_collection(name)
        self.call("drop the collections", drop)

    def search_params(self, k: int) -> dict:
        if self.spec.index == "HNSW":
            return {"metric_type": "IP", "params": {"ef": max(64, k)}}
        if self.spec.index in ("IVF_FLAT", "IVF_SQ8"):
            return {"metric_type": "IP", "params": {"nprobe": 32}}
        return {"metric_type": "IP"}
