"""Store: where sentences and their vectors live, behind one contract (``SentenceStore``).

- ``base``: the ``SentenceStore`` Protocol every backend implements.
- ``corpus``: documents, sentence spans and stable sentence ids.
- ``local``: the default backend, FAISS in this process (``faiss_index``), saved by ``disk``.
"""

from .base import SentenceStore
from .corpus import Corpus, sentence_id
from .disk import FILES, FORMAT_VERSION, MANIFEST, exists, save
from .faiss_index import EXACT_SEARCH_LIMIT, ApproximateIndex, ExactIndex
from .local import LocalStore, load

__all__ = ["SentenceStore", "Corpus", "sentence_id", "LocalStore", "load", "save", "exists", "ApproximateIndex", "ExactIndex", "EXACT_SEARCH_LIMIT",
           "FILES", "FORMAT_VERSION", "MANIFEST"]
