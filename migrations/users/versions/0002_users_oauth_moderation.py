"""users: OAuth clients and codes, revoked access tokens, roles and suspension, key rotation.

Additive only: new tables, and new nullable (or defaulted) columns on users, refresh_tokens and
signing_keys. Downgrading drops them, which loses every OAuth client, role and suspension.

Revision ID: 0002_users_oauth_moderation
Revises: 0001_users_initial
Create Date: 2025-01-02 00:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_users_oauth_moderation"
down_revision: str | None = "0001_users_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    op.add_column("users", sa.Column("role", sa.String(16), nullable=False, server_default="user"))
    op.add_column("users", sa.Column("suspended_at", ts, nullable=True))
    op.add_column("refresh_tokens", sa.Column("client_id", sa.String(64), nullable=True))
    op.add_column("refresh_tokens", sa.Column("scope", sa.String(100), nullable=True))
    op.add_column("signing_keys", sa.Column("rotated_at", ts, nullable=True))

    op.create_table(
        "oauth_clients",
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column("owner_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=True),
        sa.Column("redirect_uris", sa.Text(), nullable=False),
        sa.Column("scopes", sa.String(100), nullable=False),
        sa.Column("grants", sa.String(200), nullable=False),
        sa.Column("bot_account", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("revoked_at", ts, nullable=True),
    )
    op.create_index("ix_oauth_clients_owner", "oauth_clients", ["owner_id"])

    op.create_table(
        "oauth_codes",
        sa.Column("code_hash", sa.String(64), primary_key=True),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("scope", sa.String(100), nullable=False),
        sa.Column("code_challenge", sa.String(128), nullable=False),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("expires_at", ts, nullable=False),
        sa.Column("used_at", ts, nullable=True),
        sa.Column("family_id", sa.BigInteger(), nullable=True),
        sa.Column("access_jti", sa.String(64), nullable=True),
        sa.Column("access_expires_at", ts, nullable=True),
    )
    op.create_index("ix_oauth_codes_user", "oauth_codes", ["user_id"])

    op.create_table(
        "revoked_access_tokens",
        sa.Column("jti", sa.String(64), primary_key=True),
        sa.Column("expires_at", ts, nullable=False),
    )
    op.create_index("ix_revoked_access_tokens_expires", "revoked_access_tokens", ["expires_at"])


def downgrade() -> None:
    """Drops the OAuth tables and the added columns: clients, roles and suspensions are lost."""
    op.drop_table("revoked_access_tokens")
    op.drop_table("oauth_codes")
    op.drop_table("oauth_clients")
    with op.batch_alter_table("signing_keys") as batch:
        batch.drop_column("rotated_at")
    with op.batch_alter_table("refresh_tokens") as batch:
        batch.drop_column("scope")
        batch.drop_column("client_id")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("suspended_at")
        batch.drop_column("role")
