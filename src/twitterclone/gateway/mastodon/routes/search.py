"""Search v2 (/api/v2/search) and trends (/api/v1/trends/...).

Accounts are found by the users port (handle or display name prefix), statuses by the tweets
port's full-text search, hashtags by whether any status carries the tag. Trending tags come
from the analytics port's sliding window.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from boundaries._kernel.pagination import MAX_PAGE_SIZE, PageRequest
from boundaries.analytics.port import AnalyticsPort
from boundaries.tweets.port import TweetsPort
from boundaries.users.port import UsersPort
from twitterclone.gateway.auth import Principal
from twitterclone.gateway.di import FromDishka, inject
from twitterclone.gateway.mastodon import entities as m
from twitterclone.gateway.mastodon.deps import TAG, shaper_for
from twitterclone.gateway.mastodon.paging import Limit, clamp, offset_links
from twitterclone.gateway.mastodon.params import Flag
from twitterclone.gateway.mastodon.scopes import scope

_HASHTAG = re.compile(r"^#?(\w{1,100})$")
_HANDLE_PREFIX = re.compile(r"^@?([A-Za-z0-9_]{1,15})(@[^\s@]+)?$")
#: Mastodon serves at most 20 trending tags a page; the analytics port ranks at most 50.
MAX_TRENDING = 20
#: Trending statuses: 20 a page by default, 40 at most (as Mastodon), 200 deep in all.
MAX_TRENDING_STATUSES = 40
TRENDING_STATUSES_DEPTH = 200
Offset = Annotated[int | None, QueryParameter(description="Skip this many results (at most 100 in all).")]


def tag(name: str, base: str, uses: int = 0) -> m.Tag:
    """A Tag with today's use count in its history (the trends window), or none."""
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    history = (
        [m.TagHistory(day=str(int(day.timestamp())), uses=str(uses), accounts=str(uses))] if uses else []
    )
    return m.Tag(name=name, url=f"{base}/tags/{name}", history=history)


class SearchController(Controller):
    """Search across accounts, statuses and hashtags."""

    path = "/v2/search"
    tags = [TAG]

    @get(
        "/",
        operation_id="mastodonSearch",
        summary="Accounts, statuses and hashtags matching q",
        guards=[scope("read:search")],
    )
    @inject
    async def search(
        self,
        request: Request[Any, Any, Any],
        q: Annotated[str, QueryParameter(max_length=500)],
        viewer: NamedDependency[Principal | None],
        users: FromDishka[UsersPort],
        tweets: FromDishka[TweetsPort],
        type: Annotated[Literal["accounts", "statuses", "hashtags"] | None, QueryParameter()] = None,
        resolve: Flag = False,
        following: Flag = False,
        exclude_unreviewed: Flag = False,
        limit: Limit = None,
        offset: Offset = None,
    ) -> m.Search:
        shaper = await shaper_for(request)
        del resolve, following, exclude_unreviewed  # nothing remote to resolve; no filters yet
        viewer_id = viewer.user_id if viewer else None
        query = q.strip()
        size = clamp(limit)
        skip = max(0, min(offset or 0, MAX_PAGE_SIZE - size))
        window = PageRequest(limit=min(MAX_PAGE_SIZE, size + skip))
        accounts: list[m.Account] = []
        statuses: list[m.Status] = []
        hashtags: list[m.Tag] = []
        if not query:
            return m.Search(accounts=[], statuses=[], hashtags=[])
        if type in (None, "accounts"):
            handle = _HANDLE_PREFIX.match(query)
            if handle is not None:
                found = await users.search(handle.group(1), window)
                accounts = await shaper.accounts_of(found.items[skip : skip + size])
        if type in (None, "statuses"):
            found_tweets = await tweets.search(query, viewer_id, window)
            statuses, _ = await shaper.statuses(found_tweets.items[skip : skip + size], viewer_id)
        if type in (None, "hashtags") and skip == 0:
            name = _HASHTAG.match(query)
            if name is not None:
                used = await tweets.search(f"#{name.group(1)}", viewer_id, PageRequest(limit=1))
                if used.items:
                    hashtags = [tag(name.group(1).lower(), shaper.base)]
        return m.Search(accounts=accounts, statuses=statuses, hashtags=hashtags)


class TrendsController(Controller):
    """Trending hashtags and statuses."""

    path = "/v1/trends"
    tags = [TAG]

    @get(
        "/tags",
        operation_id="mastodonTrendingTags",
        summary="Hashtags trending over the last 24 hours, most used first",
    )
    @inject
    async def tags_trending(
        self,
        request: Request[Any, Any, Any],
        analytics: FromDishka[AnalyticsPort],
        limit: Limit = None,
        offset: Offset = None,
    ) -> list[m.Tag]:
        shaper = await shaper_for(request)
        size = min(clamp(limit, 10), MAX_TRENDING)
        skip = max(0, min(offset or 0, 2 * MAX_TRENDING))
        trends = await analytics.trends("24h", size + skip)
        return [tag(t.hashtag, shaper.base, t.tweets) for t in trends.trends[skip : skip + size]]

    @get(
        "/statuses",
        operation_id="mastodonTrendingStatuses",
        summary="Public statuses with the most engagement over the last 24 hours, most first",
    )
    @inject
    async def statuses_trending(
        self,
        request: Request[Any, Any, Any],
        viewer: NamedDependency[Principal | None],
        analytics: FromDishka[AnalyticsPort],
        tweets: FromDishka[TweetsPort],
        limit: Limit = None,
        offset: Offset = None,
    ) -> Response[list[m.Status]]:
        shaper = await shaper_for(request)
        size = min(clamp(limit), MAX_TRENDING_STATUSES)
        skip = max(0, offset or 0)
        if skip > TRENDING_STATUSES_DEPTH - size:
            return Response([], media_type="application/json")
        viewer_id = viewer.user_id if viewer else None
        trending = await analytics.trending_tweets("24h", size, skip)
        ids = [t.tweet_id for t in trending.tweets]
        statuses, _ = await shaper.statuses(await tweets.get_feed(ids, viewer_id) if ids else [], viewer_id)
        more = len(ids) == size and skip + size < TRENDING_STATUSES_DEPTH
        return Response(
            statuses, media_type="application/json", headers=offset_links(request, skip, size, more)
        )

    @get("/", operation_id="mastodonTrends", summary="Trending hashtags (the pre-3.5 route)")
    @inject
    async def trends(
        self, request: Request[Any, Any, Any], analytics: FromDishka[AnalyticsPort], limit: Limit = None
    ) -> list[m.Tag]:
        shaper = await shaper_for(request)
        trends = await analytics.trends("24h", min(clamp(limit, 10), MAX_TRENDING))
        return [tag(t.hashtag, shaper.base, t.tweets) for t in trends.trends]
