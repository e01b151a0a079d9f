"""Fake VK API (placeholder docstring)."""

from .server import FakeVK
from .state import ApiCall, Message, Revision, VisibleMessage

__all__ = ["ApiCall", "FakeVK", "Message", "Revision", "VisibleMessage"]
