"""qa: cited answers from a folder of news articles.

>>> from qa import Retriever
>>> retriever = Retriever.from_directory("seeds")
>>> retriever.search("Who is the president of Ecuador?", k=1).hits[0].sentence.title
'Ecuador And Israel Cement Security Alliance As Jerusalem Office Opens'
"""

from .errors import DocumentError, IndexStoreError, ModelLoadError, ModelMismatchError, QAError, QueryError
from .loading import Document, load_directory, read_document
from .retrieval import Hit, Retriever, SearchResult, Source, UpdateReport
from .sentences import Sentence

__all__ = [
    "Retriever",
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
    "ModelLoadError",
]
