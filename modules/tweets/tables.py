"""The tweets module's tables (SQLAlchemy Core, on the module's own MetaData).

Ids are snowflakes kept as 64-bit integers inside the module and turned into decimal strings
at the port. Full-text search is dialect-specific and lives outside this MetaData:

* SQLite: an FTS5 virtual table ``tweets_fts`` (rowid = tweet id; columns ``body`` and ``tags``),
  written and deleted in the same transaction as the tweet row.
* PostgreSQL: two ``tsvector`` columns on ``tweets`` (``text_search``, ``tag_search``) with GIN
  indexes, filled by the service on insert.

Both are the kernel's ``FullTextIndex`` (``twitterclone.infra.search``), made by ``search_index``.
"""

from __future__ import annotations

import sqlalchemy as sa

from twitterclone.infra.sql import UtcDateTime

metadata = sa.MetaData()

tweets = sa.Table(
    "tweets",
    metadata,
    sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("author_id", sa.BigInteger(), nullable=False),
    sa.Column("text", sa.Text(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("conversation_id", sa.BigInteger(), nullable=False),
    sa.Column("reply_to_id", sa.BigInteger(), nullable=True),
    sa.Column("reply_to_author_id", sa.BigInteger(), nullable=True),
    sa.Column("quote_of_id", sa.BigInteger(), nullable=True),
    sa.Column("retweet_of_id", sa.BigInteger(), nullable=True),
    sa.Column("like_count", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("retweet_count", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("reply_count", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("quote_count", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("entities", sa.JSON(), nullable=False),
    sa.Column("media_ids", sa.JSON(), nullable=False),
    # Content warnings and language (migration 0006_content).
    sa.Column("spoiler_text", sa.Text(), nullable=False, server_default=""),
    sa.Column("sensitive", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("language", sa.String(2), nullable=True),
    sa.Index("ix_tweets_author_id", "author_id", sa.text("id DESC")),
    sa.Index("ix_tweets_conversation", "conversation_id", "id"),
    sa.Index("ix_tweets_reply_to", "reply_to_id", "id"),
    sa.Index("ix_tweets_quote_of", "quote_of_id"),
    sa.Index(
        "uq_tweets_retweet",
        "author_id",
        "retweet_of_id",
        unique=True,
        sqlite_where=sa.text("retweet_of_id IS NOT NULL"),
        postgresql_where=sa.text("retweet_of_id IS NOT NULL"),
    ),
    sa.Index("ix_tweets_retweet_of", "retweet_of_id"),
    # public, unlisted, private or direct (see modules/tweets/audience.py).
    sa.Column("visibility", sa.String(8), nullable=False, server_default="public"),
    sa.Index(
        "ix_tweets_public",
        sa.text("id DESC"),
        sqlite_where=sa.text("visibility = 'public' AND retweet_of_id IS NULL"),
        postgresql_where=sa.text("visibility = 'public' AND retweet_of_id IS NULL"),
    ),
)

likes = sa.Table(
    "likes",
    metadata,
    sa.Column("user_id", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("tweet_id", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Index("ix_likes_tweet_id", "tweet_id"),
    # Newest-first lists: a user's favourites, and who liked a tweet (migration 0006_content).
    sa.Index("ix_likes_user_created", "user_id", "created_at", "tweet_id"),
    sa.Index("ix_likes_tweet_created", "tweet_id", "created_at", "user_id"),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("author_id", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("body_hash", sa.String(64), nullable=False),
    sa.Column("tweet_id", sa.BigInteger(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Index("ix_idempotency_keys_created_at", "created_at"),
)

#: A user's bookmarks; ``id`` is a Snowflake taken when the bookmark was made, so a user's
#: bookmarks list newest-bookmarked first by it (and it is the page cursor).
bookmarks = sa.Table(
    "bookmarks",
    metadata,
    sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("user_id", sa.BigInteger(), nullable=False),
    sa.Column("tweet_id", sa.BigInteger(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Index("ux_bookmarks_user_tweet", "user_id", "tweet_id", unique=True),
    sa.Index("ix_bookmarks_user_id", "user_id", sa.text("id DESC")),
    sa.Index("ix_bookmarks_tweet_id", "tweet_id"),
)

#: Tweets their authors pinned to their profiles (at most ``MAX_PINS`` each).
pins = sa.Table(
    "pins",
    metadata,
    sa.Column("tweet_id", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("author_id", sa.BigInteger(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Index("ix_pins_author", "author_id", "created_at"),
)

#: The users module's author summaries, as the tweets module last heard of them (a projection fed
#: by UserRegistered and ProfileUpdated). ``updated_at`` is the time of the event (or of the read
#: from users) that wrote the row: an older one never overwrites a newer one.
authors = sa.Table(
    "authors",
    metadata,
    sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("handle", sa.String(15), nullable=False),
    sa.Column("display_name", sa.String(50), nullable=False),
    sa.Column("updated_at", sa.Float(), nullable=False),
)

#: Per author: how many statuses (tweets and retweets, not direct ones) they have, and when the
#: newest was posted; written in the transaction that posts or deletes one (migration 0008).
author_activity = sa.Table(
    "author_activity",
    metadata,
    sa.Column("author_id", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("statuses_count", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("last_status_at", UtcDateTime(), nullable=True),
)

#: The search index's fields: the tsvector column of each on PostgreSQL, the FTS5 column on SQLite.
SEARCH_FIELDS = {"body": "text_search", "tags": "tag_search"}
#: SQLite only: the FTS5 table (rowid = tweet id). Not schema-mapped (SQLite has none).
SQLITE_FTS_TABLE = "tweets_fts"
