"""Mastodon paging: ``max_id``/``since_id``/``min_id``/``limit`` in, a ``Link`` header out.

Lists ordered by snowflake id (statuses, notifications) take the id bounds as they are: the
kernel ``PageRequest`` carries them to the module. Other lists (followers, bookmarks…) are
paged by our opaque cursor, which travels as ``max_id`` in their ``Link`` header (clients copy
the parameter back without reading it). ``rel="next"`` comes first, as Mastodon sends it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote_plus, unquote_plus, urlencode

from litestar import Request
from litestar.params import QueryParameter

from boundaries._kernel.errors import InvalidCursor
from boundaries._kernel.ids import is_id
from boundaries._kernel.pagination import MAX_PAGE_SIZE, PageRequest
from twitterclone.gateway.mastodon.shaping import base_url

#: Mastodon's default page size for statuses and notifications.
DEFAULT_LIMIT = 20
#: The paging bounds a Link header's URLs replace.
_BOUNDS = ("max_id", "since_id", "min_id")

MaxId = Annotated[
    str | None, QueryParameter(name="max_id", max_length=200, description="Older than this id (exclusive).")
]
SinceId = Annotated[
    str | None, QueryParameter(name="since_id", max_length=200, description="Newer than this id (exclusive).")
]
MinId = Annotated[
    str | None,
    QueryParameter(
        name="min_id", max_length=200, description="The page immediately newer than this id (exclusive)."
    ),
]
Limit = Annotated[
    int | None,
    QueryParameter(name="limit", description=f"Page size; clamped to 1-{MAX_PAGE_SIZE} as Mastodon clamps."),
]


def clamp(limit: int | None, default: int = DEFAULT_LIMIT, most: int = MAX_PAGE_SIZE) -> int:
    """A client's ``limit`` within our bounds (Mastodon clamps rather than refusing)."""
    if limit is None:
        return default
    return max(1, min(most, limit))


def _id_bound(name: str, value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if not is_id(value):
        raise InvalidCursor(f"{name} must be a status or notification id", field=name)
    return value


def id_page(
    max_id: str | None,
    since_id: str | None,
    min_id: str | None,
    limit: int | None,
    default: int = DEFAULT_LIMIT,
) -> PageRequest:
    """A page of an id-ordered list."""
    return PageRequest(
        limit=clamp(limit, default),
        max_id=_id_bound("max_id", max_id),
        since_id=_id_bound("since_id", since_id),
        min_id=_id_bound("min_id", min_id),
    )


def cursor_page(max_id: str | None, limit: int | None, default: int = 40) -> PageRequest:
    """A page of a cursor-ordered list: ``max_id`` holds the cursor of a previous Link header."""
    return PageRequest(cursor=max_id or None, limit=clamp(limit, default))


#: A query string safe to copy into a Link header as it came (else its pairs are encoded again).
_PLAIN_QUERY = re.compile(r"[A-Za-z0-9_.~%=&+\[\]-]*")


def _name(pair: str) -> str:
    name = pair.partition("=")[0]
    return unquote_plus(name) if "%" in name or "+" in name else name


def _page_url(request: Request[Any, Any, Any], drop: tuple[str, ...] = _BOUNDS) -> Callable[[str, str], str]:
    """The request's own URL with one bound in place of the paging bounds (``drop``) it had.

    The address and the kept query are worked out once for both links of a page, from the
    scope: the kept pairs as the client wrote them when they are plain, else encoded again.
    """
    scope = request.scope
    address = f"{base_url(request)}{scope.get('root_path', '')}{scope['path']}?"
    query = scope.get("query_string", b"").decode("latin-1")
    if _PLAIN_QUERY.fullmatch(query):
        kept = "".join(f"{pair}&" for pair in query.split("&") if pair and _name(pair) not in drop)
    else:
        pairs = [(k, v) for k, v in request.query_params.multi_items() if k not in drop]
        kept = f"{urlencode(pairs)}&" if pairs else ""
    start = address + kept

    def url(bound: str, value: str) -> str:
        return f"{start}{bound}={quote_plus(value)}"

    return url


def id_links(request: Request[Any, Any, Any], ids: list[str], *, more: bool = True) -> dict[str, str]:
    """The Link header of a page of an id-ordered list (newest first): older after the last id,
    newer before the first. ``more`` False (the list ended) leaves ``next`` out."""
    if not ids:
        return {}
    url = _page_url(request)
    links = []
    if more:
        links.append(f'<{url("max_id", ids[-1])}>; rel="next"')
    links.append(f'<{url("min_id", ids[0])}>; rel="prev"')
    return {"Link": ", ".join(links)}


def cursor_links(request: Request[Any, Any, Any], next_cursor: str | None) -> dict[str, str]:
    """The Link header of a cursor-paged list: ``next`` only (its cursor as ``max_id``)."""
    if next_cursor is None:
        return {}
    return {"Link": f'<{_page_url(request)("max_id", next_cursor)}>; rel="next"'}


def offset_links(request: Request[Any, Any, Any], offset: int, size: int, more: bool) -> dict[str, str]:
    """The Link header of an offset-paged list (trends): ``next`` skips this page, ``prev`` goes back."""
    url = _page_url(request, ("offset",))
    links = []
    if more:
        links.append(f'<{url("offset", str(offset + size))}>; rel="next"')
    if offset > 0:
        links.append(f'<{url("offset", str(max(0, offset - size)))}>; rel="prev"')
    return {"Link": ", ".join(links)} if links else {}


__all__ = [
    "DEFAULT_LIMIT",
    "Limit",
    "MaxId",
    "MinId",
    "SinceId",
    "clamp",
    "cursor_links",
    "cursor_page",
    "id_links",
    "id_page",
    "offset_links",
]
