"""qa: cited answers from a folder of news articles.

>>> from qa import Retriever
>>> retriever = Retriever.from_directory("seeds")
>>> retriever.search("Who is the president of Ecuador?", k=1).hits[0].sentence.title
'Ecuador And Israel Cement Security Alliance As Jerusalem Office Opens'
"""

from .documents.filters import Filter
from .documents.loading import Document, load_directory, read_document
from .documents.sentences import Sentence
from .errors import (DocumentError, IndexStoreError, ModelLoadError, ModelMismatchError, QAError, QueryError,
                     StoreUnavailableError)
from .retrieval.results import Hit, SearchResult, Source, UpdateReport
from .retrieval.retriever import Retriever

__all__ = [
    "Retriever",
    "Filter",
    "SearchResult",
    "Hit",
    "Source",
    "Sentence",
    "Document",
    "UpdateReport",
    "read_document",
    "load_directory",
    "QAError",
    "DocumentError",
    "QueryError",
    "IndexStoreError",
    "ModelMismatchError",
    "StoreUnavailableError",
    "ModelLoadError",
]
