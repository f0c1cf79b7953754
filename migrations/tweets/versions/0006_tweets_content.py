"""tweets: content warnings, language, bookmarks, pins, and newest-first like lists.

``tweets`` gains ``spoiler_text`` (a content warning, "" for none), ``sensitive`` and
``language`` (ISO 639-1 or null). New tables ``bookmarks`` (a user's saved tweets, ordered by
a Snowflake id) and ``pins`` (tweets pinned to their author's profile). ``likes`` gains two
indexes so a user's favourites and a tweet's likers list newest first. Nothing is lost on
downgrade except the new data (bookmarks, pins, warnings and languages).

Revision ID: tweets_0006_content
Revises: tweets_0005_visibility
Create Date: 2026-12-04 00:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "tweets_0006_content"
# After tweets_0005 (the audience branch), re-chained when both were merged (mastodon-api).
down_revision: str | Sequence[str] | None = "tweets_0005_visibility"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("tweets", sa.Column("spoiler_text", sa.Text(), nullable=False, server_default=""))
    op.add_column("tweets", sa.Column("sensitive", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("tweets", sa.Column("language", sa.String(2), nullable=True))
    op.create_index("ix_likes_user_created", "likes", ["user_id", "created_at", "tweet_id"])
    op.create_index("ix_likes_tweet_created", "likes", ["tweet_id", "created_at", "user_id"])
    op.create_table(
        "bookmarks",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("tweet_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ux_bookmarks_user_tweet", "bookmarks", ["user_id", "tweet_id"], unique=True)
    op.create_index("ix_bookmarks_user_id", "bookmarks", ["user_id", sa.text("id DESC")])
    op.create_index("ix_bookmarks_tweet_id", "bookmarks", ["tweet_id"])
    op.create_table(
        "pins",
        sa.Column("tweet_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("author_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_pins_author", "pins", ["author_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_pins_author", table_name="pins")
    op.drop_table("pins")
    op.drop_index("ix_bookmarks_tweet_id", table_name="bookmarks")
    op.drop_index("ix_bookmarks_user_id", table_name="bookmarks")
    op.drop_index("ux_bookmarks_user_tweet", table_name="bookmarks")
    op.drop_table("bookmarks")
    op.drop_index("ix_likes_tweet_created", table_name="likes")
    op.drop_index("ix_likes_user_created", table_name="likes")
    with op.batch_alter_table("tweets") as batch:
        batch.drop_column("language")
        batch.drop_column("sensitive")
        batch.drop_column("spoiler_text")
