"""Render: search results as people and programs read them.

- ``json``: the one JSON shape of a search result (``result_to_dict``) and its JSON Schema
  (``RESULT_SCHEMA``), used by ``qa ask --json``, ``qa eval --details`` and the HTTP API.
- ``text``: Markdown-friendly text (``format_result``), what the CLI prints.
- ``html``: the chat's answer, citation cards and article viewer (``answer_html``).
- ``citation``: the words all three share for a hit (where it is, how well it matches).

A new renderer is a module here reading ``SearchResult``; nothing in it searches.
"""

from .json import RESULT_SCHEMA, SCHEMA_VERSION, result_to_dict
from .text import format_result

__all__ = ["RESULT_SCHEMA", "SCHEMA_VERSION", "result_to_dict", "format_result"]
