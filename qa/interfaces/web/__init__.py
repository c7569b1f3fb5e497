"""Web: the Gradio chat — what each control does (``Handlers``), the page (``build_app``) and
how it is served (``launch_settings``). app.py only reads the settings and starts it.

gradio is in the ``app`` extra only: this package is the one part of qa that imports it,
and no other module imports it (tests/test_app.py checks both). It turns what a person does
into library calls and results into what a person reads: searching lives in
``qa.retrieval``, follow-ups in ``qa.conversation``, uploads in ``qa.uploads``, rendering
in ``qa.render``. Modules: ``handlers`` (the controls), ``uploading`` (several files and
zips), ``library`` (what the page says about the index), ``page`` (layout and serving),
``assets`` (CSS and JavaScript), ``messages`` (toasts and status lines).

>>> import tempfile
>>> from qa import Retriever
>>> retriever = Retriever.from_directory("seeds", index_dir=tempfile.mkdtemp())
>>> Handlers(retriever, "seeds").search("When did formal diplomatic relations begin?", k=1)["hits"][0]["sentence"]
17
"""

from .handlers import DEFAULT_K, DOC_PREFIX, MAX_K, Handlers
from .library import SEED_EXAMPLES
from .page import UPLOAD_TYPES, build_app, launch_settings
from .serving import spare_per_request_work

__all__ = ["Handlers", "build_app", "launch_settings", "spare_per_request_work", "DEFAULT_K", "DOC_PREFIX", "MAX_K", "SEED_EXAMPLES", "UPLOAD_TYPES"]
