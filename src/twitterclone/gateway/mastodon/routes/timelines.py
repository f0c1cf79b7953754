"""Timelines (/api/v1/timelines): home, and statuses with a hashtag.

A page is one timeline (or tweets) port call plus the Shaper's one users and one media call,
whatever its size: the adapter stays thin (BENCHMARKS.md measures it against the native route).
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import PathParameter

from boundaries.timeline.port import TimelinePort
from boundaries.tweets.port import TweetsPort
from twitterclone.gateway.auth import Principal
from twitterclone.gateway.di import FromDishka, inject
from twitterclone.gateway.mastodon import entities as m
from twitterclone.gateway.mastodon.deps import TAG, shaper_for, statuses_response
from twitterclone.gateway.mastodon.paging import (
    Limit,
    MaxId,
    MinId,
    SinceId,
    id_links,
    id_page,
)
from twitterclone.gateway.mastodon.params import Flag
from twitterclone.gateway.mastodon.scopes import scope
from twitterclone.gateway.params import BEARER

Hashtag = Annotated[
    str, PathParameter(pattern=r"^#?\w{1,100}$", description="A hashtag, with or without '#'.")
]


class TimelinesController(Controller):
    """Home and hashtag timelines."""

    path = "/v1/timelines"
    tags = [TAG]

    @get(
        "/home",
        operation_id="mastodonHomeTimeline",
        summary="Statuses of the accounts one follows, and one's own, newest first",
        security=BEARER,
        guards=[scope("read:statuses")],
    )
    @inject
    async def home(
        self,
        request: Request[Any, Any, Any],
        user: NamedDependency[Principal],
        timeline: FromDishka[TimelinePort],
        max_id: MaxId = None,
        since_id: SinceId = None,
        min_id: MinId = None,
        limit: Limit = None,
    ) -> Response[list[m.Status]]:
        shaper = await shaper_for(request)
        page = await timeline.home_timeline(user.user_id, id_page(max_id, since_id, min_id, limit))
        body = await shaper.status_page(page.items, user.user_id)
        more = page.next_cursor is not None
        return statuses_response(body, id_links(request, [t.id for t in page.items], more=more))

    @get(
        "/public",
        operation_id="mastodonPublicTimeline",
        summary="Public statuses of everyone on this server, newest first",
        guards=[scope("read:statuses")],
    )
    @inject
    async def public(
        self,
        request: Request[Any, Any, Any],
        viewer: NamedDependency[Principal | None],
        tweets: FromDishka[TweetsPort],
        max_id: MaxId = None,
        since_id: SinceId = None,
        min_id: MinId = None,
        limit: Limit = None,
        local: Flag = False,
        remote: Flag = False,
        only_media: Flag = False,
    ) -> Response[list[m.Status]]:
        shaper = await shaper_for(request)
        del local  # every account is local here
        viewer_id = viewer.user_id if viewer else None
        if remote:  # no federation: nothing remote
            return statuses_response(b"[]")
        page = await tweets.public_timeline(viewer_id, id_page(max_id, since_id, min_id, limit))
        items = [t for t in page.items if t.media_ids] if only_media else page.items
        body = await shaper.status_page(items, viewer_id)
        ids = [t.id for t in page.items]  # paging follows the list read, filtered or not
        return statuses_response(body, id_links(request, ids, more=page.next_cursor is not None))

    @get(
        "/tag/{hashtag:str}",
        operation_id="mastodonTagTimeline",
        summary="Public statuses with a hashtag, newest first",
        guards=[scope("read:statuses")],
    )
    @inject
    async def tag(
        self,
        request: Request[Any, Any, Any],
        hashtag: Hashtag,
        viewer: NamedDependency[Principal | None],
        tweets: FromDishka[TweetsPort],
        max_id: MaxId = None,
        since_id: SinceId = None,
        min_id: MinId = None,
        limit: Limit = None,
        local: Flag = False,
        only_media: Flag = False,
    ) -> Response[list[m.Status]]:
        shaper = await shaper_for(request)
        del local
        viewer_id = viewer.user_id if viewer else None
        page = await tweets.tag_timeline(
            hashtag.lstrip("#"), viewer_id, id_page(max_id, since_id, min_id, limit)
        )
        items = [t for t in page.items if t.media_ids] if only_media else page.items
        body = await shaper.status_page(items, viewer_id)
        ids = [t.id for t in page.items]
        return statuses_response(body, id_links(request, ids, more=page.next_cursor is not None))
