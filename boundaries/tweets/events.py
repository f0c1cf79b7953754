"""Events the tweets module publishes."""

from datetime import datetime

import msgspec

from boundaries._kernel.events import Event
from boundaries._kernel.ids import Id


class TweetPosted(Event, frozen=True, kw_only=True, tag=True):
    """A tweet, reply or quote was posted."""

    tweet_id: Id
    author_id: Id
    created_at: datetime
    text: str
    conversation_id: Id
    reply_to_id: Id | None = None
    reply_to_author_id: Id | None = None
    quote_of_id: Id | None = None
    quote_of_author_id: Id | None = None
    hashtags: list[str] = msgspec.field(default_factory=list)
    mentioned_user_ids: list[Id] = msgspec.field(default_factory=list)
    media_ids: list[Id] = msgspec.field(default_factory=list)
    #: public, unlisted, private or direct (events from versions before visibility: public).
    visibility: str = "public"


class TweetDeleted(Event, frozen=True, kw_only=True, tag=True):
    """A tweet (or a retweet) is gone."""

    tweet_id: Id
    author_id: Id
    media_ids: list[Id] = msgspec.field(default_factory=list)


class TweetLiked(Event, frozen=True, kw_only=True, tag=True):
    """``user_id`` liked a tweet of ``author_id``."""

    tweet_id: Id
    author_id: Id
    user_id: Id


class TweetUnliked(Event, frozen=True, kw_only=True, tag=True):
    """``user_id`` took back a like."""

    tweet_id: Id
    author_id: Id
    user_id: Id


class Retweeted(Event, frozen=True, kw_only=True, tag=True):
    """``user_id`` retweeted ``tweet_id`` (of ``author_id``); the retweet itself is ``retweet_id``."""

    retweet_id: Id
    tweet_id: Id
    author_id: Id
    user_id: Id
    created_at: datetime
