"""timeline: home timeline rows kept in their key's order, with one index fewer.

SQLite: ``home_timeline`` becomes a ``WITHOUT ROWID`` table, so each row lives in its primary
key's b-tree (user, tweet) instead of in a rowid table plus an index of that key; and the index
on (user, author) goes, on both databases. A fan-out entry then changes one page at the
follower's key where it changed three (the rowid table's, the key index's and the user-author
index's), which halved the WAL written per entry and the CPU of the insert and its commit
(BENCHMARKS.md, session 9). Removing an author's entries from one timeline (an unfollow) now
reads that timeline's rows through the key (at most the cap, ~800) instead of the index.

Both shapes serve both versions (docs/upgrades.md): same columns, same key; the previous version
only loses the index for its unfollow removals. No row is lost: SQLite copies them into the new
table in the migration's transaction.

Revision ID: 0005_timeline_home_clustered
Revises: 0004_timeline_home_removals
Create Date: 2026-12-05 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_timeline_home_clustered"
down_revision: str | Sequence[str] | None = "0004_timeline_home_removals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = "user_id, tweet_id, author_id"


def _rebuild(*, with_rowid: bool) -> None:
    """SQLite: copy ``home_timeline`` into a table of the other kind, then take its name."""
    op.create_table(
        "home_timeline_next",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("tweet_id", sa.BigInteger(), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "tweet_id", name="pk_home_timeline"),
        sqlite_with_rowid=with_rowid,
    )
    op.execute(f"INSERT INTO home_timeline_next ({_COLUMNS}) SELECT {_COLUMNS} FROM home_timeline")  # noqa: S608
    op.drop_table("home_timeline")  # and its indexes
    op.rename_table("home_timeline_next", "home_timeline")
    op.create_index("ix_home_timeline_tweet", "home_timeline", ["tweet_id"])


def upgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        _rebuild(with_rowid=False)
    else:
        op.drop_index("ix_home_timeline_user_author", table_name="home_timeline")


def downgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        _rebuild(with_rowid=True)
    op.create_index("ix_home_timeline_user_author", "home_timeline", ["user_id", "author_id"])
