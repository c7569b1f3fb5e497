"""Store: where sentences and their vectors live, behind one contract (``SentenceStore``).

- ``base``: the ``SentenceStore`` Protocol every backend implements.
- ``corpus``: documents, sentence spans and stable sentence ids.
- ``local``: the default backend, FAISS in this process (``faiss_index``), saved by ``disk``.
- ``milvus``: Milvus (embedded milvus-lite, or a server/cluster by URI), for corpora that
  outgrow one machine; needs ``pip install 'qa[milvus]'`` and is imported only when asked for.
  Its client holds no corpus: each question is ranked on its ``neighbourhood``, BM25 weighted
  by the corpus-wide statistics of ``terms``.
"""

from .base import SentenceStore
from .corpus import Corpus, sentence_id
from .disk import FILES, FORMAT_VERSION, MANIFEST, exists, save
from .faiss_index import EXACT_SEARCH_LIMIT, ApproximateIndex, ExactIndex
from .local import LocalStore, load



def is_milvus(spec: str | None) -> bool:
    """Whether a ``store=`` spec names Milvus (``milvus:PATH.db``, ``milvus://HOST:PORT``) rather than the local store."""
    return isinstance(spec, str) and spec.split(":", 1)[0].split("+", 1)[0] == "milvus"


def open_store(spec: str | None, index_dir, model: str, dimension: int, rebuild: bool = False) -> SentenceStore:
    """The store a ``store=`` spec names: ``None``/``"local"`` is the FAISS store saved in
    ``index_dir`` (loaded if it exists and ``rebuild`` is False, else empty); a Milvus spec opens
    (or creates) its collections, dropped first when ``rebuild``."""
    from ..errors import IndexStoreError

    if spec in (None, "", "local"):
        if index_dir is not None and exists(index_dir) and not rebuild:
            return load(index_dir, model=model)
        return LocalStore(model, dimension)
    if not is_milvus(spec):
        raise IndexStoreError(f"unknown store {spec!r}; use local, milvus:PATH.db or milvus://HOST:PORT")
    try:
        from .milvus import drop_milvus, open_milvus
    except ImportError:
        raise IndexStoreError(f"the store {spec} needs Milvus's client: pip install 'qa[milvus]'") from None
    if rebuild:
        drop_milvus(spec)
    return open_milvus(spec, model, dimension)


__all__ = ["is_milvus", "open_store","SentenceStore", "Corpus", "sentence_id", "LocalStore", "load", "save", "exists", "ApproximateIndex", "ExactIndex", "EXACT_SEARCH_LIMIT",
           "FILES", "FORMAT_VERSION", "MANIFEST"]
