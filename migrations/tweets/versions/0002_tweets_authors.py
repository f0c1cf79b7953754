"""tweets: ``authors``, the projection of the users module's author summaries.

Tweets are hydrated with their authors' handle and display name. Asking the users module on every
read made a home read go timeline -> tweets -> users (a fourth hop when split) and fail whenever
users was down. The tweets module now keeps its own copy, fed by ``UserRegistered`` and
``ProfileUpdated``; ``updated_at`` (the event's time) lets a late, older event lose to a newer one.
Accounts registered before this migration are filled in on first read (asked of users once).

Revision ID: tweets_0002_authors
Revises: tweets_0001
Create Date: 2026-12-04 00:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "tweets_0002_authors"
down_revision: str | Sequence[str] | None = "tweets_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "authors",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("handle", sa.String(15), nullable=False),
        sa.Column("display_name", sa.String(50), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("authors")
