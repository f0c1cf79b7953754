"""users: accounts, follow graph, blocks, mutes, refresh tokens, signing keys, outbox, inbox.

Revision ID: 0001_users_initial
Revises:
Create Date: 2025-01-01 00:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_users_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("handle", sa.String(15), nullable=False),
        sa.Column("handle_lower", sa.String(15), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("display_name", sa.String(50), nullable=False),
        sa.Column("bio", sa.String(160), nullable=False, server_default=""),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("followers_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("following_count", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_index("ux_users_handle_lower", "users", ["handle_lower"], unique=True)
    op.create_index("ux_users_email", "users", ["email"], unique=True)

    op.create_table(
        "follows",
        sa.Column("follower_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("followee_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("created_at", ts, nullable=False),
    )
    op.create_index("ix_follows_followee", "follows", ["followee_id", "created_at"])
    op.create_index("ix_follows_follower", "follows", ["follower_id", "created_at"])

    op.create_table(
        "blocks",
        sa.Column("blocker_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("blocked_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("created_at", ts, nullable=False),
    )
    op.create_index("ix_blocks_blocked", "blocks", ["blocked_id"])

    op.create_table(
        "mutes",
        sa.Column("muter_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("muted_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("created_at", ts, nullable=False),
    )

    op.create_table(
        "refresh_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("family_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("expires_at", ts, nullable=False),
        sa.Column("used_at", ts, nullable=True),
        sa.Column("revoked_at", ts, nullable=True),
    )
    op.create_index("ix_refresh_tokens_family", "refresh_tokens", ["family_id"])
    op.create_index("ix_refresh_tokens_user", "refresh_tokens", ["user_id"])

    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column("private_key_pem", sa.Text(), nullable=False),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("retired_at", ts, nullable=True),
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
    """Drops every users table: all accounts, follows and tokens are lost."""
    for table in ("inbox", "outbox", "signing_keys", "refresh_tokens", "mutes", "blocks", "follows", "users"):
        op.drop_table(table)
