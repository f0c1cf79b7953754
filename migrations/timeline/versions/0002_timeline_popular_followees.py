"""timeline: the popular-followees projection (follower counts, edges to popular authors).

Home reads merge in the tweets of the popular authors a viewer follows, and fan-out skips popular
authors. Both asked the users module (a call per home read, one per fan-out batch). The module
now keeps what it needs from the follow events it consumes (``modules/timeline/popular.py``).
Nothing is copied here: viewers and authors are completed from users on first use.

Revision ID: timeline_0002_popular
Revises: 0001_timeline_initial
Create Date: 2026-12-04 00:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "timeline_0002_popular"
down_revision: str | Sequence[str] | None = "0001_timeline_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "author_followers",
        sa.Column("author_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("followers", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
    )
    op.create_table(
        "popular_follows",
        sa.Column("follower_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("followee_id", sa.BigInteger(), primary_key=True, autoincrement=False),
    )
    op.create_index("ix_popular_follows_followee", "popular_follows", ["followee_id"])
    op.create_table(
        "popular_viewers",
        sa.Column("viewer_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("complete_for", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_table(
        "popular_backfills",
        sa.Column("author_id", sa.BigInteger(), primary_key=True, autoincrement=False),
    )


def downgrade() -> None:
    op.drop_table("popular_backfills")
    op.drop_table("popular_viewers")
    op.drop_index("ix_popular_follows_followee", table_name="popular_follows")
    op.drop_table("popular_follows")
    op.drop_table("author_followers")
