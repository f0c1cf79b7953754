"""users: avatar and header images on profiles, as media ids.

The images themselves live in the media module; these columns name the ones a profile shows.
Downgrading drops the columns (the profile images are forgotten; the media module releases them
to its sweep only when a profile changes them, so old ones then stay until removed by hand).

Revision ID: 0005_users_profile_images
Revises: 0005_users_apps_and_grants (re-chained after the oauth-accounts branch when both were merged)
Create Date: 2026-12-04 00:00:00
"""

import sqlalchemy as sa
from alembic import op

revision: str = "0005_users_profile_images"
down_revision: str | None = "0005_users_apps_and_grants"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("avatar_media_id", sa.BigInteger(), nullable=True))
    op.add_column("users", sa.Column("header_media_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("header_media_id")
        batch.drop_column("avatar_media_id")
