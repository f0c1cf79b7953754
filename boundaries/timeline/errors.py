"""Errors the timeline port raises."""

from boundaries._kernel.errors import InvalidInput


class InvalidCursor(InvalidInput):
    code = "invalid-cursor"
