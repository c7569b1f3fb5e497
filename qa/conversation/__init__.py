"""Conversation: questions read in the light of the ones before (follow-ups)."""

from .followups import Turn, ask, is_follow_up

__all__ = ["Turn", "ask", "is_follow_up"]
