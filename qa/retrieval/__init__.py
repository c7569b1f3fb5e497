"""Retrieval: the ``Retriever`` (a folder kept indexed, searched) and the results it returns."""

from .results import Hit, SearchResult, Source, UpdateReport
from .retriever import Retriever, default_index_dir

__all__ = ["Retriever", "default_index_dir", "Hit", "SearchResult", "Source", "UpdateReport"]
