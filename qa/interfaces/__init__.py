"""Interfaces: how people reach qa — the ``qa`` command line (``cli``) and the Gradio chat
(``web``, which app.py starts). Nothing here searches or renders; both call the library and
``qa.render``. ``web`` imports gradio (the ``app`` extra), so nothing in qa imports it.
"""
