"""The timeline module's tables: one lean fan-out store of home timelines.

Ids are snowflakes, so ``tweet_id`` order is time order: no timestamp column is needed.
"""

import sqlalchemy as sa

metadata = sa.MetaData()

#: Who sees which tweet on their home timeline. Rows are derived data: ``rebuild`` can
#: recompute them from the follow graph and the tweets (the source of truth). On SQLite the rows
#: live in their key's b-tree (``WITHOUT ROWID``): a fan-out entry changes one page at the
#: follower's key, and a timeline's rows sit together (migration 0005).
home_timeline = sa.Table(
    "home_timeline",
    metadata,
    sa.Column("user_id", sa.BigInteger(), primary_key=True),
    sa.Column("tweet_id", sa.BigInteger(), primary_key=True),
    sa.Column("author_id", sa.BigInteger(), nullable=False),
    # TweetDeleted removes one tweet from every timeline. (UserUnfollowed removes one author's
    # entries from one timeline through the key: at most the cap's rows, read together.)
    sa.Index("ix_home_timeline_tweet", "tweet_id"),
    sqlite_with_rowid=False,
)

# --- popular followees (popular.py): a projection of the follow events the module consumes ---

#: Each author's follower count as the newest follow event (or users, once) told it.
author_followers = sa.Table(
    "author_followers",
    metadata,
    sa.Column("author_id", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("followers", sa.Integer(), nullable=False),
    sa.Column("updated_at", sa.Float(), nullable=False),
)

#: A viewer -> a popular author they follow (whose tweets are merged in at read time).
popular_follows = sa.Table(
    "popular_follows",
    metadata,
    sa.Column("follower_id", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("followee_id", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Index("ix_popular_follows_followee", "followee_id"),
)

#: Viewers whose ``popular_follows`` are complete, for which threshold (-1: not complete), and
#: a version every follow event of theirs bumps.
popular_viewers = sa.Table(
    "popular_viewers",
    metadata,
    sa.Column("viewer_id", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("complete_for", sa.Integer(), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
)

#: Authors who just became popular: their followers' edges are still to be added.
popular_backfills = sa.Table(
    "popular_backfills",
    metadata,
    sa.Column("author_id", sa.BigInteger(), primary_key=True, autoincrement=False),
)
