"""tweets: ``visibility`` (public, unlisted, private, direct) and an index for the public timeline.

Every tweet posted before this migration was visible to everyone, so existing rows become
``public`` (the server default). The partial index ``ix_tweets_public`` holds only public tweets
that are not retweets: the public and hashtag timelines page through it newest first.

Revision ID: tweets_0005_visibility
Revises: tweets_0004_idempotency_expiry
Create Date: 2026-12-04 19:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "tweets_0005_visibility"
down_revision: str | Sequence[str] | None = "tweets_0004_idempotency_expiry"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PUBLIC = sa.text("visibility = 'public' AND retweet_of_id IS NULL")


def upgrade() -> None:
    op.add_column("tweets", sa.Column("visibility", sa.String(8), nullable=False, server_default="public"))
    op.create_index(
        "ix_tweets_public",
        "tweets",
        [sa.text("id DESC")],
        sqlite_where=_PUBLIC,
        postgresql_where=_PUBLIC,
    )


def downgrade() -> None:
    """Loses who could see each tweet: every tweet becomes public again (a note for operators)."""
    op.drop_index("ix_tweets_public", table_name="tweets")
    with op.batch_alter_table("tweets") as batch:
        batch.drop_column("visibility")
