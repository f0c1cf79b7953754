"""timeline: an index on the inbox's processed_at, for the kernel's purge of applied inbox rows.

Revision ID: 0002_timeline_inbox_age
Revises: 0001_timeline_initial
Create Date: 2026-12-04 00:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002_timeline_inbox_age"
down_revision: str | None = "0001_timeline_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_inbox_processed_at", "inbox", ["processed_at"])


def downgrade() -> None:
    op.drop_index("ix_inbox_processed_at", table_name="inbox")
