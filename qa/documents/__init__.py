"""Documents: files read into text with metadata, split into sentences with exact offsets, filtered by metadata."""

from .filters import Filter
from .loading import Document, load_directory, read_document
from .sentences import Sentence, Span, split_document

__all__ = ["Document", "read_document", "load_directory", "Sentence", "Span", "split_document", "Filter"]
