"""Render: search results as people and programs read them (HTML, terminal text, JSON)."""
