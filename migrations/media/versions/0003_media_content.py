"""media: alt text, focus point, and the profile role (avatar or header) of an image.

``description`` (alt text, at most 1,500 characters) and ``focus_x``/``focus_y`` (in [-1, 1])
are what the owner gives on upload or later; ``profile_role`` marks an image a profile shows,
which makes it public and keeps the sweep of unattached uploads away from it. Downgrading
drops these columns and what they hold.

Revision ID: 0003_media_content
Revises: 0002_media_inbox_age
Create Date: 2026-12-04 00:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_media_content"
down_revision = "0002_media_inbox_age"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("media", sa.Column("description", sa.Text(), nullable=True))
    op.add_column("media", sa.Column("focus_x", sa.Float(), nullable=True))
    op.add_column("media", sa.Column("focus_y", sa.Float(), nullable=True))
    op.add_column("media", sa.Column("profile_role", sa.String(8), nullable=True))
    op.create_index("ix_media_owner_role", "media", ["owner_id", "profile_role"])


def downgrade() -> None:
    op.drop_index("ix_media_owner_role", table_name="media")
    with op.batch_alter_table("media") as batch:
        batch.drop_column("profile_role")
        batch.drop_column("focus_y")
        batch.drop_column("focus_x")
        batch.drop_column("description")
