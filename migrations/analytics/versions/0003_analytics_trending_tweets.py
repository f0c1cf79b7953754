"""analytics: trending tweets, from engagement buckets per tweet and whether a tweet is public.

``tweet_buckets`` counts likes (net of unlikes), retweets and replies per tweet per time bucket
of each trend window, as ``hashtag_buckets`` counts hashtags; ``tweet_stats.listed`` records
whether the tweet is public (only public tweets trend). Tweets posted before this revision have
``listed`` null and never trend. Downgrading drops both and what they hold (derived data).

Revision ID: 0003_analytics_trending_tweets
Revises: 0002_analytics_inbox_age
Create Date: 2026-12-04 22:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_analytics_trending_tweets"
down_revision = "0002_analytics_inbox_age"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tweet_stats", sa.Column("listed", sa.Boolean(), nullable=True))
    op.create_table(
        "tweet_buckets",
        sa.Column("window", sa.String(8), primary_key=True),
        sa.Column("tweet_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("bucket_start", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("engagements", sa.BigInteger(), nullable=False, server_default="0"),
    )
    op.create_index("ix_tweet_buckets_window_start", "tweet_buckets", ["window", "bucket_start"])


def downgrade() -> None:
    op.drop_index("ix_tweet_buckets_window_start", table_name="tweet_buckets")
    op.drop_table("tweet_buckets")
    with op.batch_alter_table("tweet_stats") as batch:
        batch.drop_column("listed")
