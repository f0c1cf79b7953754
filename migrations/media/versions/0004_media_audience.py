"""media: the visibility of the tweet an image is shown in.

An image in a followers-only or direct tweet is seen only by whom the tweets module lets see
the tweet; ``tweet_visibility`` (from TweetPosted) tells the media module which images those
are. Images attached before this revision have it null and are treated as restricted (their
tweet's audience is asked), never as public. Downgrading drops the column.

Revision ID: 0004_media_audience
Revises: 0003_media_content
Create Date: 2026-12-04 22:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_media_audience"
down_revision = "0003_media_content"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("media", sa.Column("tweet_visibility", sa.String(8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("media") as batch:
        batch.drop_column("tweet_visibility")
