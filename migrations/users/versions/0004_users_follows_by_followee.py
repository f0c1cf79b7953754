"""users: an index that serves follower_ids (fan-out's paging of an author's followers).

``follower_ids`` reads ``follows`` by ``followee_id`` in ``follower_id`` order, page after page.
The existing index is on (followee_id, created_at), so every page sorted the author's followers
again: 10-90 ms per page for a 10,000-follower author on PostgreSQL (BENCHMARKS.md, "Fan-out at
scale"). With (followee_id, follower_id) a page is a range read of the index.

Revision ID: 0004_users_follows_by_followee
Revises: 0003_users_handle_skeleton
Create Date: 2025-01-04 00:00:00

"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004_users_follows_by_followee"
down_revision: str | None = "0003_users_handle_skeleton"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_follows_followee_follower", "follows", ["followee_id", "follower_id"])


def downgrade() -> None:
    op.drop_index("ix_follows_followee_follower", table_name="follows")
