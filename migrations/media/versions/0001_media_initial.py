"""media: uploads, their renditions, outbox, inbox.

Revision ID: 0001_media_initial
Revises:
Create Date: 2025-01-01 00:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_media_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "media",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=False),
        sa.Column("content_type", sa.String(32), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("attached_to", sa.BigInteger(), nullable=True),
        sa.Column("deleting", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_media_owner", "media", ["owner_id"])
    op.create_index("ix_media_unattached", "media", ["attached_to", "created_at"])

    op.create_table(
        "media_variants",
        sa.Column("media_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(16), primary_key=True),
        sa.Column("blob_key", sa.String(128), nullable=False, unique=True),
        sa.Column("content_type", sa.String(32), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("etag", sa.String(80), nullable=False),
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
    """Drops every media table: the metadata of all uploads is lost (blobs stay on disk)."""
    for table in ("inbox", "outbox", "media_variants", "media"):
        op.drop_table(table)
