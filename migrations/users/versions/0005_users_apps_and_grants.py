"""users: apps without an owner, what each user authorised, password change, refresh lifetimes.

- ``oauth_clients.owner_id`` may be NULL (an app registered by anyone, Mastodon's apps API),
  and a client has an optional ``website``;
- scope columns widen to 1024 characters (Mastodon's granular scopes are long);
- ``refresh_tokens.family_expires_at``: a refresh family's absolute end (rotation never passes it);
- ``oauth_codes.replayed_at``: a code presented twice, so the first exchange, still running,
  revokes what it issues (the replay and the exchange each lock the code's row);
- ``oauth_access_tokens`` records first-party access tokens too (``client_id`` NULL) with their
  ``user_id`` and refresh ``family_id``, so that a password change or an app's revocation can deny
  a user's live tokens at once;
- ``oauth_grants``: the apps a user authorised (one row per user and client).

Additive, apart from NOT NULL dropped on two columns. Downgrading drops the new table and columns
(losing grants and owner-less apps' websites) and fails while an owner-less app exists.

Revision ID: 0005_users_apps_and_grants
Revises: 0004_users_follows_by_followee
Create Date: 2025-01-05 00:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_users_apps_and_grants"
down_revision: str | None = "0004_users_follows_by_followee"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    with op.batch_alter_table("oauth_clients") as batch:
        batch.alter_column("owner_id", existing_type=sa.BigInteger(), nullable=True)
        batch.alter_column("scopes", existing_type=sa.String(100), type_=sa.String(1024))
        batch.add_column(sa.Column("website", sa.String(512), nullable=True))
    with op.batch_alter_table("refresh_tokens") as batch:
        batch.alter_column("scope", existing_type=sa.String(100), type_=sa.String(1024))
        batch.add_column(sa.Column("family_expires_at", ts, nullable=True))
    with op.batch_alter_table("oauth_codes") as batch:
        batch.alter_column("scope", existing_type=sa.String(100), type_=sa.String(1024))
        batch.add_column(sa.Column("replayed_at", ts, nullable=True))
    with op.batch_alter_table("oauth_access_tokens") as batch:
        batch.alter_column("client_id", existing_type=sa.String(64), nullable=True)
        batch.add_column(sa.Column("user_id", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("family_id", sa.BigInteger(), nullable=True))
        batch.create_index("ix_oauth_access_tokens_user", ["user_id"])
    op.create_table(
        "oauth_grants",
        sa.Column("user_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column("scope", sa.String(1024), nullable=False),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("last_used_at", ts, nullable=False),
        sa.Column("revoked_at", ts, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("oauth_grants")
    with op.batch_alter_table("oauth_access_tokens") as batch:
        batch.drop_index("ix_oauth_access_tokens_user")
        batch.drop_column("family_id")
        batch.drop_column("user_id")
    op.execute("DELETE FROM oauth_access_tokens WHERE client_id IS NULL")
    with op.batch_alter_table("oauth_access_tokens") as batch:
        batch.alter_column("client_id", existing_type=sa.String(64), nullable=False)
    with op.batch_alter_table("oauth_codes") as batch:
        batch.drop_column("replayed_at")
    with op.batch_alter_table("refresh_tokens") as batch:
        batch.drop_column("family_expires_at")
    with op.batch_alter_table("oauth_clients") as batch:
        batch.drop_column("website")
        batch.alter_column("owner_id", existing_type=sa.BigInteger(), nullable=False)
