"""Cursor pagination: one shape everywhere, page size capped at 100."""

from typing import Annotated, Generic, TypeVar

import msgspec

from boundaries._kernel.ids import Id

T = TypeVar("T")

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20

PageSize = Annotated[int, msgspec.Meta(ge=1, le=MAX_PAGE_SIZE)]


class PageRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    """Which page to read: an opaque cursor from a previous page (or none for the first).

    Lists ordered by Snowflake id (timelines, a user's tweets, notifications) also honour id
    bounds, as Mastodon clients send them: ``max_id`` older than (exclusive); ``since_id`` newer
    than, newest first; ``min_id`` the page immediately newer than, still newest first. Other
    lists ignore them. Defaults are left out on the wire, so a request without bounds decodes
    on a server that predates them.
    """

    cursor: str | None = None
    limit: PageSize = DEFAULT_PAGE_SIZE
    max_id: Id | None = None
    since_id: Id | None = None
    min_id: Id | None = None


class Page(msgspec.Struct, Generic[T], frozen=True, kw_only=True):
    """A page of items, newest first; ``next_cursor`` is null on the last page."""

    items: list[T]
    next_cursor: str | None = None
