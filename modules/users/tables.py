"""The users module's tables: accounts, the follow graph, tokens, signing keys and OAuth clients.

Ids are Snowflake integers (``BigInteger``) inside the module and decimal strings outside.
Timestamps are timezone-aware UTC (SQLite stores them as UTC wall time).
"""

from __future__ import annotations

import sqlalchemy as sa

from twitterclone.infra.sql import UtcDateTime

metadata = sa.MetaData()

_ts = UtcDateTime()

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("handle", sa.String(15), nullable=False),
    # Handles are unique ignoring case: the lowercased copy carries the unique index.
    sa.Column("handle_lower", sa.String(15), nullable=False),
    # Look-alike handles (migration 0003): the confusable fold of the handle (modules/users/handles.py)
    # carries a unique index, so a second handle that looks like the first cannot register. NULL
    # only for accounts that registered a look-alike before the rule (the oldest keeps the value).
    sa.Column("handle_skeleton", sa.String(30), nullable=True),
    sa.Column("email", sa.String(254), nullable=False),  # stored lowercased
    sa.Column("password_hash", sa.Text(), nullable=False),
    sa.Column("display_name", sa.String(50), nullable=False),
    sa.Column("bio", sa.String(160), nullable=False, server_default=""),
    sa.Column("created_at", _ts, nullable=False),
    sa.Column("followers_count", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("following_count", sa.Integer(), nullable=False, server_default="0"),
    # Moderation (migration 0002): "user" or "admin"; a suspended account's tokens stop working.
    sa.Column("role", sa.String(16), nullable=False, server_default="user"),
    sa.Column("suspended_at", _ts, nullable=True),
    # Profile images (migration 0005): media ids of images the user uploaded (the media module
    # checks them and keeps them public while the profile shows them).
    sa.Column("avatar_media_id", sa.BigInteger(), nullable=True),
    sa.Column("header_media_id", sa.BigInteger(), nullable=True),
    sa.Index("ux_users_handle_lower", "handle_lower", unique=True),
    sa.Index("ux_users_handle_skeleton", "handle_skeleton", unique=True),
    sa.Index("ux_users_email", "email", unique=True),
)

follows = sa.Table(
    "follows",
    metadata,
    sa.Column("follower_id", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("followee_id", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("created_at", _ts, nullable=False),
    sa.Index("ix_follows_followee", "followee_id", "created_at"),
    # follower_ids pages an author's followers in id order (fan-out): a range read of this index.
    sa.Index("ix_follows_followee_follower", "followee_id", "follower_id"),
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

#: A number per user that grows with every block or mute made or lifted with them, either way
#: round; triggers on ``blocks`` and ``mutes`` keep it (migration 0007), so a process may keep a
#: user's silences while it is unchanged (``silences.py``). No row: no such change yet (version 0).
silence_versions = sa.Table(
    "silence_versions",
    metadata,
    sa.Column("user_id", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("version", sa.BigInteger(), nullable=False),
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
    # OAuth (migration 0002): the client a family was issued to (None: first-party) and its scope.
    sa.Column("client_id", sa.String(64), nullable=True),
    sa.Column("scope", sa.String(1024), nullable=True),
    # The family's absolute end (migration 0005): rotation moves expires_at, never past this.
    # NULL for families older than the rule (their first token's created_at stands in).
    sa.Column("family_expires_at", _ts, nullable=True),
    sa.Index("ix_refresh_tokens_family", "family_id"),
    sa.Index("ix_refresh_tokens_user", "user_id"),
)

signing_keys = sa.Table(
    "signing_keys",
    metadata,
    sa.Column("kid", sa.String(64), primary_key=True),
    sa.Column("private_key_pem", sa.Text(), nullable=False),
    sa.Column("created_at", _ts, nullable=False),
    sa.Column("retired_at", _ts, nullable=True),  # no longer verifies (left the JWKS)
    sa.Column("rotated_at", _ts, nullable=True),  # no longer signs (migration 0002)
)

oauth_clients = sa.Table(
    "oauth_clients",
    metadata,
    sa.Column("client_id", sa.String(64), primary_key=True),
    # NULL: an app registered by nobody (Mastodon's apps API, migration 0005).
    sa.Column("owner_id", sa.BigInteger(), nullable=True),
    sa.Column("name", sa.String(100), nullable=False),
    # SHA-256 (hex) of a 256-bit random secret; None for a public client.
    sa.Column("secret_hash", sa.String(64), nullable=True),
    sa.Column("redirect_uris", sa.Text(), nullable=False),  # JSON list
    sa.Column("scopes", sa.String(1024), nullable=False),  # space-separated
    sa.Column("grants", sa.String(200), nullable=False),  # space-separated
    sa.Column("bot_account", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("created_at", _ts, nullable=False),
    sa.Column("revoked_at", _ts, nullable=True),
    sa.Column("website", sa.String(512), nullable=True),
    sa.Index("ix_oauth_clients_owner", "owner_id"),
)

oauth_codes = sa.Table(
    "oauth_codes",
    metadata,
    sa.Column("code_hash", sa.String(64), primary_key=True),  # SHA-256 (hex) of the code
    sa.Column("client_id", sa.String(64), nullable=False),
    sa.Column("user_id", sa.BigInteger(), nullable=False),
    sa.Column("redirect_uri", sa.Text(), nullable=False),
    sa.Column("scope", sa.String(1024), nullable=False),
    sa.Column("code_challenge", sa.String(128), nullable=False),
    sa.Column("created_at", _ts, nullable=False),
    sa.Column("expires_at", _ts, nullable=False),
    sa.Column("used_at", _ts, nullable=True),
    # What was issued from the code, so that a replay can revoke it.
    sa.Column("family_id", sa.BigInteger(), nullable=True),
    sa.Column("access_jti", sa.String(64), nullable=True),
    sa.Column("access_expires_at", _ts, nullable=True),
    # Set when the code is presented again (migration 0005); the exchange that claimed it then
    # revokes what it issues, whichever of the two commits first (both lock this row).
    sa.Column("replayed_at", _ts, nullable=True),
    sa.Index("ix_oauth_codes_user", "user_id"),
)

revoked_access_tokens = sa.Table(
    "revoked_access_tokens",
    metadata,
    sa.Column("jti", sa.String(64), primary_key=True),
    sa.Column("expires_at", _ts, nullable=False),  # after this the token is dead anyway: purge
    sa.Index("ix_revoked_access_tokens_expires", "expires_at"),
)

oauth_access_tokens = sa.Table(
    "oauth_access_tokens",
    metadata,
    # Access tokens issued (migration 0003; first-party ones too since 0005, client_id NULL), so
    # deleting a client, revoking an app or changing the password can deny them all at once;
    # kept until they would expire anyway.
    sa.Column("jti", sa.String(64), primary_key=True),
    sa.Column("client_id", sa.String(64), nullable=True),
    sa.Column("expires_at", _ts, nullable=False),
    sa.Column("user_id", sa.BigInteger(), nullable=True),  # NULL: an app token (no user)
    sa.Column("family_id", sa.BigInteger(), nullable=True),  # the refresh family it came with
    sa.Index("ix_oauth_access_tokens_client", "client_id"),
    sa.Index("ix_oauth_access_tokens_expires", "expires_at"),
    sa.Index("ix_oauth_access_tokens_user", "user_id"),
)

oauth_grants = sa.Table(
    "oauth_grants",
    metadata,
    # The apps a user authorised (migration 0005): one row per user and client, written when a
    # token is issued to the app for the user; revoking sets revoked_at (and ends the tokens),
    # and a later authorisation clears it.
    sa.Column("user_id", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("client_id", sa.String(64), primary_key=True),
    sa.Column("scope", sa.String(1024), nullable=False),
    sa.Column("created_at", _ts, nullable=False),
    sa.Column("last_used_at", _ts, nullable=False),
    sa.Column("revoked_at", _ts, nullable=True),
)
