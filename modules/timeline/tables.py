"""The timeline module's tables: one lean fan-out store of home timelines.

Ids are snowflakes, so ``tweet_id`` order is time order: no timestamp column is needed.
"""

import sqlalchemy as sa

metadata = sa.MetaData()

#: Who sees which tweet on their home timeline. Rows are derived data: ``rebuild`` can
#: recompute them from the follow graph and the tweets (the source of truth).
home_timeline = sa.Table(
    "home_timeline",
    metadata,
    sa.Column("user_id", sa.BigInteger(), primary_key=True),
    sa.Column("tweet_id", sa.BigInteger(), primary_key=True),
    sa.Column("author_id", sa.BigInteger(), nullable=False),
    # TweetDeleted removes one tweet from every timeline.
    sa.Index("ix_home_timeline_tweet", "tweet_id"),
    # UserUnfollowed removes one author's entries from one timeline.
    sa.Index("ix_home_timeline_user_author", "user_id", "author_id"),
)
