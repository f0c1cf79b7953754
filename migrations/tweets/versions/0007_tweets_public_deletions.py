"""tweets: public tweets deleted lately, so live public and hashtag streams can announce them.

Rows are short-lived (each delete removes those older than ten minutes); dropping the table
loses only deletions that open streams have not been told of yet.

Revision ID: tweets_0007_public_deletions
Revises: tweets_0006_content
Create Date: 2026-12-04 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "tweets_0007_public_deletions"
down_revision: str | Sequence[str] | None = "tweets_0006_content"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "public_deletions",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("tweet_id", sa.BigInteger(), nullable=False),
        sa.Column("hashtags", sa.JSON(), nullable=False),
        sa.Column("deleted_at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("public_deletions")
