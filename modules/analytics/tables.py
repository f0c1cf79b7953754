"""The analytics module's tables (its own MetaData; the store maps the schema)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()


def _counter(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), nullable=False, server_default="0")


#: Engagement counters per tweet; the author is learnt from TweetPosted (null until then).
tweet_stats = sa.Table(
    "tweet_stats",
    metadata,
    sa.Column("tweet_id", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("author_id", sa.BigInteger(), nullable=True),
    _counter("impressions"),
    _counter("likes"),
    _counter("retweets"),
    _counter("replies"),
    sa.Column("deleted", sa.Boolean(), nullable=False, server_default=sa.false()),
    # Whether the tweet is public (learnt from TweetPosted; null until then): only public tweets
    # trend (migration 0003_analytics_trending_tweets).
    sa.Column("listed", sa.Boolean(), nullable=True),
)

#: What a user posted and received per UTC day.
user_daily = sa.Table(
    "user_daily",
    metadata,
    sa.Column("user_id", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("day", sa.Date(), primary_key=True),
    _counter("tweets"),
    _counter("impressions"),
    _counter("likes"),
    _counter("retweets"),
    _counter("replies"),
    _counter("new_followers"),
)

#: Tweets per hashtag per time bucket, one bucket size per trend window; old buckets are pruned.
hashtag_buckets = sa.Table(
    "hashtag_buckets",
    metadata,
    sa.Column("window", sa.String(8), primary_key=True),
    sa.Column("hashtag", sa.String(280), primary_key=True),
    sa.Column("bucket_start", sa.BigInteger(), primary_key=True, autoincrement=False),
    _counter("tweets"),
    sa.Index("ix_hashtag_buckets_window_start", "window", "bucket_start"),
)

#: Engagements (likes net of unlikes, retweets, replies) per tweet per time bucket, one bucket size
#: per trend window; old buckets are pruned. Counted for any tweet, shown only for listed ones.
tweet_buckets = sa.Table(
    "tweet_buckets",
    metadata,
    sa.Column("window", sa.String(8), primary_key=True),
    sa.Column("tweet_id", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("bucket_start", sa.BigInteger(), primary_key=True, autoincrement=False),
    _counter("engagements"),
    sa.Index("ix_tweet_buckets_window_start", "window", "bucket_start"),
)
