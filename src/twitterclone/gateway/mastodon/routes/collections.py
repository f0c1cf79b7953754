"""One's bookmarks (/api/v1/bookmarks) and favourites (/api/v1/favourites).

Both are ordered by when one bookmarked or favourited, not by status id, so they are paged by
the tweets port's cursor, which travels as ``max_id`` in the Link header.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency

from boundaries.tweets.port import TweetsPort
from twitterclone.gateway.auth import Principal
from twitterclone.gateway.di import FromDishka, inject
from twitterclone.gateway.mastodon import entities as m
from twitterclone.gateway.mastodon.deps import TAG, shaper_for, statuses_response
from twitterclone.gateway.mastodon.paging import Limit, MaxId, cursor_links, cursor_page
from twitterclone.gateway.mastodon.scopes import scope
from twitterclone.gateway.params import BEARER


class CollectionsController(Controller):
    """Bookmarks and favourites, newest first."""

    path = "/v1"
    tags = [TAG]

    @get(
        "/bookmarks",
        operation_id="mastodonBookmarks",
        summary="The statuses one bookmarked, most recent bookmark first",
        security=BEARER,
        guards=[scope("read:bookmarks")],
    )
    @inject
    async def bookmarks(
        self,
        request: Request[Any, Any, Any],
        user: NamedDependency[Principal],
        tweets: FromDishka[TweetsPort],
        max_id: MaxId = None,
        limit: Limit = None,
    ) -> Response[list[m.Status]]:
        shaper = await shaper_for(request)
        page = await tweets.bookmarks(user.user_id, cursor_page(max_id, limit, 20))
        body = await shaper.status_page(page.items, user.user_id)
        return statuses_response(body, cursor_links(request, page.next_cursor))

    @get(
        "/favourites",
        operation_id="mastodonFavourites",
        summary="The statuses one favourited, most recent first",
        security=BEARER,
        guards=[scope("read:favourites")],
    )
    @inject
    async def favourites(
        self,
        request: Request[Any, Any, Any],
        user: NamedDependency[Principal],
        tweets: FromDishka[TweetsPort],
        max_id: MaxId = None,
        limit: Limit = None,
    ) -> Response[list[m.Status]]:
        shaper = await shaper_for(request)
        page = await tweets.favourites(user.user_id, cursor_page(max_id, limit, 20))
        body = await shaper.status_page(page.items, user.user_id)
        return statuses_response(body, cursor_links(request, page.next_cursor))
