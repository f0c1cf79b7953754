"""analytics: tweet counters, per-user daily stats, hashtag buckets, outbox, inbox.

Revision ID: 0001_analytics_initial
Revises:
Create Date: 2025-01-01 00:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_analytics_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _counter(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), nullable=False, server_default="0")


def upgrade() -> None:
    op.create_table(
        "tweet_stats",
        sa.Column("tweet_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("author_id", sa.BigInteger(), nullable=True),
        _counter("impressions"),
        _counter("likes"),
        _counter("retweets"),
        _counter("replies"),
        sa.Column("deleted", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "user_daily",
        sa.Column("user_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("day", sa.Date(), primary_key=True),
        _counter("tweets"),
        _counter("impressions"),
        _counter("likes"),
        _counter("retweets"),
        _counter("replies"),
        _counter("new_followers"),
    )
    op.create_table(
        "hashtag_buckets",
        sa.Column("window", sa.String(8), primary_key=True),
        sa.Column("hashtag", sa.String(280), primary_key=True),
        sa.Column("bucket_start", sa.BigInteger(), primary_key=True, autoincrement=False),
        _counter("tweets"),
    )
    op.create_index("ix_hashtag_buckets_window_start", "hashtag_buckets", ["window", "bucket_start"])

    # The transactional outbox and the consumer inbox (same shape as twitterclone.infra.store).
    op.create_table(
        "outbox",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
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
    """Drops every analytics table: all counters, daily stats and trend buckets are lost."""
    for table in ("inbox", "outbox", "hashtag_buckets", "user_daily", "tweet_stats"):
        op.drop_table(table)
