"""Uploads: files added to (or removed from) the documents folder and the index together."""

from .files import MAX_UPLOAD_BYTES, add_upload, remove_document, safe_name

__all__ = ["add_upload", "remove_document", "safe_name", "MAX_UPLOAD_BYTES"]
