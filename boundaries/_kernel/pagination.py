"""Cursor pagination: one shape everywhere, page size capped at 100."""

from typing import Annotated, Generic, TypeVar

import msgspec

T = TypeVar("T")

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20

PageSize = Annotated[int, msgspec.Meta(ge=1, le=MAX_PAGE_SIZE)]


class PageRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Which page to read: an opaque cursor from a previous page (or none for the first)."""

    cursor: str | None = None
    limit: PageSize = DEFAULT_PAGE_SIZE


class Page(msgspec.Struct, Generic[T], frozen=True, kw_only=True):
    """A page of items, newest first; ``next_cursor`` is null on the last page."""

    items: list[T]
    next_cursor: str | None = None
