"""The notifications module's tables (its own MetaData; the store maps the schema)."""

from __future__ import annotations

import sqlalchemy as sa

from twitterclone.infra.sql import UtcDateTime

metadata = sa.MetaData()

#: One row per (event, recipient, kind): a redelivered event can never notify twice.
notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("recipient_id", sa.BigInteger(), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("actor_id", sa.BigInteger(), nullable=False),
    # The tweet the notification is about (the mentioning tweet, the reply, the liked tweet...).
    sa.Column("tweet_id", sa.BigInteger(), nullable=True),
    # The tweet whose deletion removes the notification too (the retweet itself for retweets).
    sa.Column("source_id", sa.BigInteger(), nullable=True),
    sa.Column("event_id", sa.String(24), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("event_id", "recipient_id", "kind", name="ux_notifications_event"),
    sa.Index("ix_notifications_recipient", "recipient_id", "id"),
    sa.Index("ix_notifications_tweet", "tweet_id"),
    sa.Index("ix_notifications_source", "source_id"),
)

#: Per user: every notification with an id up to ``read_up_to`` is read.
read_markers = sa.Table(
    "read_markers",
    metadata,
    sa.Column("user_id", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("read_up_to", sa.BigInteger(), nullable=False),
)

#: Tweets known to be deleted: an event about them that arrives late notifies no one.
deleted_tweets = sa.Table(
    "deleted_tweets",
    metadata,
    sa.Column("tweet_id", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("deleted_at", UtcDateTime(), nullable=False),
)

#: Per user and timeline (Mastodon's markers): the last item read there, and how often it moved.
markers = sa.Table(
    "markers",
    metadata,
    sa.Column("user_id", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("timeline", sa.String(16), primary_key=True),
    sa.Column("last_read_id", sa.BigInteger(), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)
