"""The users module's tables: accounts, the follow graph, refresh tokens and signing keys.

Ids are Snowflake integers (``BigInteger``) inside the module and decimal strings outside.
Timestamps are timezone-aware UTC (SQLite stores them as UTC wall time).
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

_ts = sa.DateTime(timezone=True)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("handle", sa.String(15), nullable=False),
    # Handles are unique ignoring case: the lowercased copy carries the unique index.
    sa.Column("handle_lower", sa.String(15), nullable=False),
    sa.Column("email", sa.String(254), nullable=False),  # stored lowercased
    sa.Column("password_hash", sa.Text(), nullable=False),
    sa.Column("display_name", sa.String(50), nullable=False),
    sa.Column("bio", sa.String(160), nullable=False, server_default=""),
    sa.Column("created_at", _ts, nullable=False),
    sa.Column("followers_count", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("following_count", sa.Integer(), nullable=False, server_default="0"),
    sa.Index("ux_users_handle_lower", "handle_lower", unique=True),
    sa.Index("ux_users_email", "email", unique=True),
)

follows = sa.Table(
    "follows",
    metadata,
    sa.Column("follower_id", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("followee_id", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("created_at", _ts, nullable=False),
    sa.Index("ix_follows_followee", "followee_id", "created_at"),
    sa.Index("ix_follows_follower", "follower_id", "created_at"),
)

blocks = sa.Table(
    "blocks",
    metadata,
    sa.Column("blocker_id", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("blocked_id", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("created_at", _ts, nullable=False),
    sa.Index("ix_blocks_blocked", "blocked_id"),
)

mutes = sa.Table(
    "mutes",
    metadata,
    sa.Column("muter_id", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("muted_id", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("created_at", _ts, nullable=False),
)

refresh_tokens = sa.Table(
    "refresh_tokens",
    metadata,
    # Only the SHA-256 of the opaque token is stored (hex).
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("family_id", sa.BigInteger(), nullable=False),
    sa.Column("user_id", sa.BigInteger(), nullable=False),
    sa.Column("created_at", _ts, nullable=False),
    sa.Column("expires_at", _ts, nullable=False),
    sa.Column("used_at", _ts, nullable=True),
    sa.Column("revoked_at", _ts, nullable=True),
    sa.Index("ix_refresh_tokens_family", "family_id"),
    sa.Index("ix_refresh_tokens_user", "user_id"),
)

signing_keys = sa.Table(
    "signing_keys",
    metadata,
    sa.Column("kid", sa.String(64), primary_key=True),
    sa.Column("private_key_pem", sa.Text(), nullable=False),
    sa.Column("created_at", _ts, nullable=False),
    sa.Column("retired_at", _ts, nullable=True),
)
