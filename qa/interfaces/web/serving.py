"""Per-request work Gradio does that a question-answering server does not need.

Under load (bench/load.py: 20 clients x 50 searches on 2 cores) the server's time went to
Gradio's own per-request work on its one event-loop thread, not to answering: py-spy put
85% of the samples holding the GIL in the event loop and 12% in the search itself
(bench/RESULTS.md, "Load"). Two of those costs are switched off here, before the queue is
made; the third, uvicorn's pure-Python HTTP parser and asyncio loop, goes away by having
``httptools`` and ``uvloop`` installed (the app extra), which uvicorn picks on its own.
"""

from __future__ import annotations

import importlib.util
import os
import sys

# Gradio rebuilds the summary behind its API page's request counts and latency percentiles
# (a pandas DataFrame of the last 10,000 queued events) after every queued event, so each
# question cost more than the one before until 10,000 were kept. Once every this many events
# the page's figures still move while a busy server stops paying for them (what it saved:
# bench/RESULTS.md, "Load").
MONITORING_SUMMARY_EVERY = 100


def spare_per_request_work() -> None:
    """Set Gradio up not to redo work on every request; call once, before ``demo.queue()``.

    It changes the process, so the app calls it (app.py), never an import:

    - the monitoring summary is rebuilt every ``MONITORING_SUMMARY_EVERY`` queued events
      instead of every one, unless ``GRADIO_ANALYTICS_CACHE_FREQUENCY`` is already set;
    - when matplotlib is not installed, its absence is recorded once in ``sys.modules``:
      Gradio tries ``import matplotlib`` twice around every call, and a failed import
      searches every folder on ``sys.path`` again each time (16% of the event loop's samples).

    Example::

        spare_per_request_work()
        demo = build_app(retriever, docs)
        demo.queue()
    """
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", str(MONITORING_SUMMARY_EVERY))
    if "matplotlib" not in sys.modules and importlib.util.find_spec("matplotlib") is None:
        # None is how Python itself marks a module as not importable: the import then fails at once.
        sys.modules["matplotlib"] = None  # type: ignore[assignment]
