"""Words the chat shows about what it did: toasts and the upload status lines."""

from __future__ import annotations

import html


def message(text: str) -> str:
    """Toasts render HTML; file names and titles in messages are shown, never interpreted."""
    return html.escape(text)


def status_html(lines: list[tuple[str, str]], stamp: int = 0) -> str:
    """The upload status: one line per file, class ``ok``, ``bad`` or ``busy``.

    ``stamp`` makes each new status differ from the last, so the page redraws it even when a
    refusal repeats word for word (the page may have written "uploading" over it meanwhile).

    >>> status_html([("bad", "a.txt — not added: <empty>")], 3)
    '<div class="qa-upload-lines" data-n="3"><ul><li class="bad">✗ a.txt — not added: &lt;empty&gt;</li></ul></div>'
    """
    mark = {"ok": "✓", "bad": "✗", "busy": "…"}
    items = "".join(f'<li class="{cls}">{mark[cls]} {html.escape(text)}</li>' for cls, text in lines)
    return f'<div class="qa-upload-lines" data-n="{stamp}"><ul>{items}</ul></div>'
