"""Errors the timeline port raises."""

from boundaries._kernel.errors import InvalidCursor

__all__ = ["InvalidCursor"]
