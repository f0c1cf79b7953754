"""The parameters many routes share, declared once: ids in paths, cursor pages, bearer security.

Route modules import these rather than restating them, so an id pattern or the page cap cannot
drift between route groups; the page cap is the one ``boundaries._kernel.pagination`` enforces.
"""

from __future__ import annotations

from typing import Annotated

from litestar.params import PathParameter, QueryParameter

from boundaries._kernel.pagination import MAX_PAGE_SIZE

#: Snowflake ids travel as decimal strings (64 bits: at most 20 digits).
ID_PATTERN = r"^[0-9]{1,20}$"
#: What an operation that needs an access token declares as its ``security``.
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]


def id_in_path(what: str) -> PathParameter:
    """A path parameter holding the id of ``what`` (a user, a tweet, a media item)."""
    return PathParameter(pattern=ID_PATTERN, description=f"A {what} id (decimal string).")


UserId = Annotated[str, id_in_path("user")]
TweetId = Annotated[str, id_in_path("tweet")]
MediaId = Annotated[str, id_in_path("media")]

#: The page a list route answers: ``?cursor=`` from a previous page, ``?limit=`` items.
Cursor = Annotated[
    str | None, QueryParameter(name="cursor", description="From a previous page's next_cursor.")
]
Limit = Annotated[
    int,
    QueryParameter(name="limit", ge=1, le=MAX_PAGE_SIZE, description=f"Page size, 1-{MAX_PAGE_SIZE}."),
]

__all__ = ["BEARER", "ID_PATTERN", "Cursor", "Limit", "MediaId", "TweetId", "UserId", "id_in_path"]
