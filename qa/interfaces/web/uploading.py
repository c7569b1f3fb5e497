"""Uploads in the Documents tab: several files, or .zip files of articles, in one go.

Each file (and each article of a zip) gets one status line that says what happens to it —
waiting, adding, added, or refused with its reason — instead of a progress bar per output.
"""

from __future__ import annotations

import itertools
from pathlib import Path
import gradio as gr

from ...errors import QAError
from ...uploads import add_upload
from ...uploads.archive import is_zip, read_members
from .messages import message, status_html

_stamps = itertools.count(1)
REFUSALS_IN_A_TOAST = 3  # the rest are in the status lines; a toast is read at a glance


def _items(handlers, paths: list[str]):
    """(name, bytes or None, refusal or None) for each uploaded file and each article of a zip."""
    for file in paths:
        path = Path(file)
        name = path.name
        try:
            size = path.stat().st_size
            if size > handlers.max_upload_bytes:
                raise QAError(f"{size:,} bytes is over the {handlers.max_upload_bytes:,}-byte upload limit; split the file")
            data = path.read_bytes()
        except QAError as err:
            yield name, None, str(err)
            continue
        except OSError as err:
            yield name, None, f"cannot read the upload ({err.strerror or err})"
            continue
        if not is_zip(name):
            yield name, data, None
            continue
        try:
            members = read_members(data, name, max_member_bytes=handlers.max_upload_bytes)
        except QAError as err:
            yield name, None, str(err).removeprefix(f"{name}: ")
            continue
        if not members:
            yield name, None, "the zip holds no files"
        for m in members:
            yield f"{name} › {m.name}", m.data, m.reason


def upload_files(handlers, files, query: str, sort: str):
    paths = [files] if isinstance(files, str) else [f for f in (files or []) if isinstance(f, str)]
    if not paths:
        yield (gr.skip(),) * 12
        return
    items = list(_items(handlers, paths))
    lines: list[tuple[str, str]] = [("bad", f"{name} — not added: {reason}") if reason else ("busy", f"{name} — waiting")
                                    for name, _, reason in items]
    added = 0
    for i, (name, data, reason) in enumerate(items):
        if reason:
            continue
        lines[i] = ("busy", f"{name} — adding (reading and embedding its sentences)")
        yield (status_html(lines, next(_stamps)),) + (gr.skip(),) * 11
        stored = name.rsplit(" › ", 1)[-1]
        try:
            doc = add_upload(handlers.retriever, handlers.docs_dir, data, stored, max_bytes=handlers.max_upload_bytes)
        except QAError as err:
            lines[i] = ("bad", f"{name} — not added: {str(err).removeprefix(stored + ': ')}")
            continue
        added += 1
        count = handlers.retriever.sentence_count(doc.path)
        lines[i] = ("ok", f"{name} — added “{doc.title}” as {doc.path} ({count} sentences); ask about it now")
    refused = [text for cls, text in lines if cls == "bad"]
    if refused:
        more = f" (and {len(refused) - REFUSALS_IN_A_TOAST} more)" if len(refused) > REFUSALS_IN_A_TOAST else ""
        gr.Warning(message("; ".join(refused[:REFUSALS_IN_A_TOAST]) + more))
    if added:
        handlers.changed()
        gr.Info(message(f"Added {added} of {len(items)} file{'s' if len(items) != 1 else ''}."))
        yield (status_html(lines, next(_stamps)),) + handlers.refresh(query, sort) + (None,)
    else:
        yield (status_html(lines, next(_stamps)),) + (gr.skip(),) * 10 + (None,)

