"""tweets: each author's statuses count and last status time, counted from the tweets there are.

``author_activity`` is kept by the service in the transaction that posts or deletes a status
(direct tweets do not count; retweets do). The upgrade fills it from the existing tweets;
downgrading drops it (it can be counted again).

Revision ID: tweets_0008_author_activity
Revises: tweets_0007_public_deletions
Create Date: 2026-12-04 22:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "tweets_0008_author_activity"
down_revision: str | Sequence[str] | None = "tweets_0007_public_deletions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "author_activity",
        sa.Column("author_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("statuses_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_status_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.execute(
        "INSERT INTO author_activity (author_id, statuses_count, last_status_at) "
        "SELECT author_id, COUNT(*), MAX(created_at) FROM tweets "
        "WHERE visibility <> 'direct' GROUP BY author_id"
    )


def downgrade() -> None:
    op.drop_table("author_activity")
