"""What the gateway may ask of the analytics module."""

from typing import Protocol

from boundaries._kernel.ids import Id
from boundaries.analytics.dto import TrendingTweets, Trends, TrendWindow, TweetStats, UserStats


class AnalyticsPort(Protocol):
    """Engagement counters, impressions and trending hashtags."""

    async def tweet_stats(self, requester_id: Id, tweet_id: Id) -> TweetStats:
        """A tweet's counters, for its author only; raises NotStatsOwner or StatsNotFound."""
        ...

    async def user_stats(self, user_id: Id, days: int) -> UserStats:
        """A user's daily engagement over the last ``days`` days (at most 90)."""
        ...

    async def trends(self, window: TrendWindow, limit: int) -> Trends:
        """The top hashtags over a sliding window, with decay."""
        ...

    async def trending_tweets(self, window: TrendWindow, limit: int, offset: int = 0) -> TrendingTweets:
        """The public tweets with the most recent engagement over a sliding window, with decay."""
        ...
