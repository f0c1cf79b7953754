"""notifications: notifications, read markers, deleted-tweet tombstones, outbox, inbox.

Revision ID: 0001_notifications_initial
Revises:
Create Date: 2025-01-01 00:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_notifications_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "notifications",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("recipient_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=False),
        sa.Column("tweet_id", sa.BigInteger(), nullable=True),
        sa.Column("source_id", sa.BigInteger(), nullable=True),
        sa.Column("event_id", sa.String(24), nullable=False),
        sa.Column("created_at", ts, nullable=False),
        sa.UniqueConstraint("event_id", "recipient_id", "kind", name="ux_notifications_event"),
    )
    op.create_index("ix_notifications_recipient", "notifications", ["recipient_id", "id"])
    op.create_index("ix_notifications_tweet", "notifications", ["tweet_id"])
    op.create_index("ix_notifications_source", "notifications", ["source_id"])

    op.create_table(
        "read_markers",
        sa.Column("user_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("read_up_to", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "deleted_tweets",
        sa.Column("tweet_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("deleted_at", ts, nullable=False),
    )

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
    """Drops every notifications table: all notifications and read markers are lost."""
    for table in ("inbox", "outbox", "deleted_tweets", "read_markers", "notifications"):
        op.drop_table(table)
