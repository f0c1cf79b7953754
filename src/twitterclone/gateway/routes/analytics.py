"""Analytics: a tweet's stats (/api/tweets/{id}/stats), one's daily stats, and trends."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from boundaries._kernel.errors import InvalidCursor
from boundaries._kernel.pagination import Page
from boundaries.analytics.dto import Trends, TrendWindow, TweetStats, UserStats
from boundaries.analytics.errors import NotStatsOwner, StatsNotFound
from boundaries.analytics.port import AnalyticsPort
from boundaries.tweets.dto import Tweet
from boundaries.tweets.port import TweetsPort
from twitterclone.gateway.auth import READ, Principal
from twitterclone.gateway.di import FromDishka, inject
from twitterclone.gateway.params import BEARER, Cursor, TweetId
from twitterclone.gateway.problems import errors


class AnalyticsController(Controller):
    """Engagement counters, daily stats and trending hashtags."""

    path = ""
    tags = ["analytics"]

    @get(
        "/tweets/{tweet_id:str}/stats",
        operation_id="getTweetStats",
        summary="A tweet's impressions, likes, retweets and replies (its author only)",
        security=BEARER,
        guards=[READ],
        responses=errors(StatsNotFound, NotStatsOwner),
    )
    @inject
    async def tweet_stats(
        self, tweet_id: TweetId, user: NamedDependency[Principal], analytics: FromDishka[AnalyticsPort]
    ) -> TweetStats:
        return await analytics.tweet_stats(user.user_id, tweet_id)

    @get(
        "/users/me/stats",
        operation_id="getMyStats",
        summary="One's engagement per UTC day, oldest first",
        security=BEARER,
        guards=[READ],
    )
    @inject
    async def my_stats(
        self,
        user: NamedDependency[Principal],
        analytics: FromDishka[AnalyticsPort],
        days: Annotated[
            int, QueryParameter(name="days", ge=1, le=90, description="How many days, 1-90 (today included).")
        ] = 7,
    ) -> UserStats:
        return await analytics.user_stats(user.user_id, days)

    @get(
        "/trends",
        operation_id="getTrends",
        summary="Trending hashtags over a window, with decay",
        guards=[READ],
    )
    @inject
    async def trends(
        self,
        analytics: FromDishka[AnalyticsPort],
        window: Annotated[
            TrendWindow, QueryParameter(name="window", description="The sliding window: 1h or 24h.")
        ] = "1h",
        limit: Annotated[int, QueryParameter(name="limit", ge=1, le=50, description="How many, 1-50.")] = 10,
    ) -> Trends:
        return await analytics.trends(window, limit)

    @get(
        "/trends/tweets",
        operation_id="getTrendingTweets",
        summary="Public tweets trending by recent engagement (likes, retweets, replies), with decay",
        description=(
            "The most engaged-with public tweets over the window, highest first, as the caller may "
            "see them (blocked and muted authors left out). At most 200 deep; `next_cursor` reads on."
        ),
        guards=[READ],
        responses=errors(InvalidCursor),
    )
    @inject
    async def trending_tweets(
        self,
        analytics: FromDishka[AnalyticsPort],
        tweets: FromDishka[TweetsPort],
        viewer: NamedDependency[Principal | None],
        window: Annotated[
            TrendWindow, QueryParameter(name="window", description="The sliding window: 1h or 24h.")
        ] = "24h",
        limit: Annotated[int, QueryParameter(name="limit", ge=1, le=40, description="How many, 1-40.")] = 20,
        cursor: Cursor = None,
    ) -> Page[Tweet]:
        offset = _offset(cursor)
        if offset > TRENDING_DEPTH - limit:
            return Page(items=[])
        trending = await analytics.trending_tweets(window, limit, offset)
        ids = [t.tweet_id for t in trending.tweets]
        items = await tweets.get_feed(ids, viewer.user_id if viewer else None) if ids else []
        more = len(ids) == limit and offset + limit < TRENDING_DEPTH
        return Page(items=items, next_cursor=str(offset + limit) if more else None)


#: How deep trending tweets go (the analytics port's bound).
TRENDING_DEPTH = 200


def _offset(cursor: str | None) -> int:
    """The trending list's cursor is how many went before."""
    if cursor is None:
        return 0
    if not cursor.isdigit() or int(cursor) > TRENDING_DEPTH:
        raise InvalidCursor("not a cursor of this list", field="cursor")
    return int(cursor)
