"""timeline: deleted tweets remembered for a while, so live home streams can announce them.

Rows are short-lived (the consumer that writes them deletes those older than ten minutes);
dropping the table loses only deletions that open streams have not been told of yet.

Revision ID: 0004_timeline_home_removals
Revises: 0003_timeline_inbox_age
Create Date: 2026-12-04 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_timeline_home_removals"
down_revision: str | Sequence[str] | None = "0003_timeline_inbox_age"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "home_removals",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("tweet_id", sa.BigInteger(), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=False),
        sa.Column("removed_at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("home_removals")
