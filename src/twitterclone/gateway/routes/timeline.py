"""Timelines: one's home timeline (/api/timeline/home) and a user's tweets (/api/users/{id}/tweets)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from boundaries._kernel.pagination import DEFAULT_PAGE_SIZE, Page, PageRequest
from boundaries.timeline.dto import RebuildResult
from boundaries.timeline.port import TimelinePort
from boundaries.tweets.dto import Tweet, UserTweetsFilter
from twitterclone.gateway.auth import READ, WRITE, Principal
from twitterclone.gateway.di import FromDishka, inject
from twitterclone.gateway.params import BEARER, Cursor, Limit, UserId


def _flag(description: str) -> QueryParameter:
    return QueryParameter(description=description)


ExcludeReplies = Annotated[bool, _flag("Leave out replies to others.")]
ExcludeRetweets = Annotated[bool, _flag("Leave out retweets.")]
OnlyMedia = Annotated[bool, _flag("Only tweets with media.")]
OnlyPinned = Annotated[bool, _flag("Only the pinned tweets.")]


class TimelineController(Controller):
    """Home timelines and user timelines (path "" so it owns routes under two prefixes)."""

    path = ""
    tags = ["timeline"]

    @get(
        "/timeline/home",
        operation_id="getHomeTimeline",
        summary="The newest tweets of the accounts one follows, and one's own",
        security=BEARER,
        guards=[READ],
    )
    @inject
    async def home(
        self,
        user: NamedDependency[Principal],
        timeline: FromDishka[TimelinePort],
        cursor: Cursor = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
    ) -> Page[Tweet]:
        return await timeline.home_timeline(user.user_id, PageRequest(cursor=cursor, limit=limit))

    @post(
        "/timeline/home/rebuild",
        operation_id="rebuildHomeTimeline",
        summary="Rebuild one's home timeline from follows and tweets",
        status_code=200,
        security=BEARER,
        guards=[WRITE],
    )
    @inject
    async def rebuild(
        self, user: NamedDependency[Principal], timeline: FromDishka[TimelinePort]
    ) -> RebuildResult:
        return await timeline.rebuild(user.user_id)

    @get(
        "/users/{user_id:str}/tweets",
        operation_id="getUserTimeline",
        summary="A user's tweets and retweets",
        description=(
            "Filters: `exclude_replies` (a reply to oneself, a thread, stays), `exclude_retweets`, "
            "`only_media`, and `pinned` (only the pinned tweets, newest pin first, on one page)."
        ),
        guards=[READ],
    )
    @inject
    async def user_tweets(
        self,
        user_id: UserId,
        viewer: NamedDependency[Principal | None],
        timeline: FromDishka[TimelinePort],
        cursor: Cursor = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
        exclude_replies: ExcludeReplies = False,
        exclude_retweets: ExcludeRetweets = False,
        only_media: OnlyMedia = False,
        pinned: OnlyPinned = False,
    ) -> Page[Tweet]:
        filters = UserTweetsFilter(
            exclude_replies=exclude_replies,
            exclude_retweets=exclude_retweets,
            only_media=only_media,
            pinned=pinned,
        )
        return await timeline.user_timeline(
            user_id,
            viewer.user_id if viewer else None,
            PageRequest(cursor=cursor, limit=limit),
            filters if filters != UserTweetsFilter() else None,
        )
