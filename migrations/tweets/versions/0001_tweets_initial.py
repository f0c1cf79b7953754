"""tweets: tweets, likes, idempotency keys, full-text search, outbox and inbox.

Full-text search depends on the dialect: SQLite gets an FTS5 virtual table ``tweets_fts``
(rowid = tweet id), PostgreSQL gets ``tsvector`` columns on ``tweets`` with GIN indexes.

Revision ID: tweets_0001
Revises:
Create Date: 2025-01-01 00:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import TSVECTOR

revision: str = "tweets_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create every table of the tweets module."""
    dialect = op.get_bind().dialect.name
    # PostgreSQL: search vectors live on the row (columns in create_table, so the schema map applies).
    search_columns = (
        []
        if dialect == "sqlite"
        else [
            sa.Column("text_search", TSVECTOR(), nullable=True),
            sa.Column("tag_search", TSVECTOR(), nullable=True),
        ]
    )
    op.create_table(
        "tweets",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("author_id", sa.BigInteger(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
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
        *search_columns,
    )
    op.create_index("ix_tweets_author_id", "tweets", ["author_id", sa.text("id DESC")])
    op.create_index("ix_tweets_conversation", "tweets", ["conversation_id", "id"])
    op.create_index("ix_tweets_reply_to", "tweets", ["reply_to_id", "id"])
    op.create_index("ix_tweets_quote_of", "tweets", ["quote_of_id"])
    op.create_index("ix_tweets_retweet_of", "tweets", ["retweet_of_id"])
    op.create_index(
        "uq_tweets_retweet",
        "tweets",
        ["author_id", "retweet_of_id"],
        unique=True,
        sqlite_where=sa.text("retweet_of_id IS NOT NULL"),
        postgresql_where=sa.text("retweet_of_id IS NOT NULL"),
    )

    if dialect == "sqlite":
        # body: the tweet text; tags: its hashtags (so '#tag' can search hashtags only).
        op.execute(
            "CREATE VIRTUAL TABLE tweets_fts USING fts5("
            "body, tags, tokenize = 'unicode61 remove_diacritics 2')"
        )
    else:
        op.create_index("ix_tweets_text_search", "tweets", ["text_search"], postgresql_using="gin")
        op.create_index("ix_tweets_tag_search", "tweets", ["tag_search"], postgresql_using="gin")

    op.create_table(
        "likes",
        sa.Column("user_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("tweet_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_likes_tweet_id", "likes", ["tweet_id"])

    op.create_table(
        "idempotency_keys",
        sa.Column("author_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("body_hash", sa.String(64), nullable=False),
        sa.Column("tweet_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )

    # The transactional outbox and the consumer inbox (same shape as twitterclone.infra.store).
    op.create_table(
        "outbox",
        sa.Column(
            "seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column("event_id", sa.String(24), nullable=False, unique=True),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("pending", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.Float(), nullable=False, server_default="0"),
        sa.Column("lease_until", sa.Float(), nullable=False, server_default="0"),
        sa.Column("published_at", sa.Float(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
    )
    op.create_index("ix_outbox_unpublished", "outbox", ["published_at", "next_attempt_at"])
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(64), primary_key=True),
        sa.Column("event_id", sa.String(24), primary_key=True),
        sa.Column("processed_at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    """Drop every table of the tweets module (loses all tweets, likes and pending events)."""
    dialect = op.get_bind().dialect.name
    op.drop_table("inbox")
    op.drop_index("ix_outbox_unpublished", table_name="outbox")
    op.drop_table("outbox")
    op.drop_table("idempotency_keys")
    op.drop_index("ix_likes_tweet_id", table_name="likes")
    op.drop_table("likes")
    if dialect == "sqlite":
        op.execute("DROP TABLE IF EXISTS tweets_fts")
    op.drop_table("tweets")
