"""Data the analytics module returns."""

from datetime import date
from typing import Literal

import msgspec

from boundaries._kernel.ids import Id

TrendWindow = Literal["1h", "24h"]


class TweetStats(msgspec.Struct, frozen=True, kw_only=True):
    """Engagement counters of one tweet."""

    tweet_id: Id
    impressions: int
    likes: int
    retweets: int
    replies: int


class DailyStats(msgspec.Struct, frozen=True, kw_only=True):
    """One day of a user's engagement."""

    day: date
    tweets: int
    impressions: int
    likes: int
    retweets: int
    replies: int
    new_followers: int


class UserStats(msgspec.Struct, frozen=True, kw_only=True):
    """A user's engagement over recent days, oldest first."""

    user_id: Id
    days: list[DailyStats]


class Trend(msgspec.Struct, frozen=True, kw_only=True):
    """A hashtag and its decayed score over a window."""

    hashtag: str
    score: float
    tweets: int


class Trends(msgspec.Struct, frozen=True, kw_only=True):
    """The top hashtags of a window, highest score first."""

    window: TrendWindow
    trends: list[Trend]


class TrendingTweet(msgspec.Struct, frozen=True, kw_only=True):
    """A public tweet and its decayed engagement (likes, retweets, replies) over a window."""

    tweet_id: Id
    score: float
    engagements: int


class TrendingTweets(msgspec.Struct, frozen=True, kw_only=True):
    """The most engaged-with public tweets of a window, highest score first."""

    window: TrendWindow
    tweets: list[TrendingTweet]
