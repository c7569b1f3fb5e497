"""Interfaces: the ``qa`` command line (``cli``); the Gradio chat is wired in app.py."""
