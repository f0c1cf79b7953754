"""timeline: home timelines (fan-out store), outbox and inbox.

Revision ID: 0001_timeline_initial
Revises:
Create Date: 2025-01-01 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_timeline_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "home_timeline",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("tweet_id", sa.BigInteger(), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "tweet_id", name="pk_home_timeline"),
    )
    op.create_index("ix_home_timeline_tweet", "home_timeline", ["tweet_id"])
    op.create_index("ix_home_timeline_user_author", "home_timeline", ["user_id", "author_id"])

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
    op.drop_table("inbox")
    op.drop_index("ix_outbox_unpublished", table_name="outbox")
    op.drop_table("outbox")
    op.drop_index("ix_home_timeline_user_author", table_name="home_timeline")
    op.drop_index("ix_home_timeline_tweet", table_name="home_timeline")
    op.drop_table("home_timeline")
