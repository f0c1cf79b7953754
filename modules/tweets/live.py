"""The live public timeline: public tweets posted or deleted since a position, waited for (streams).

What a public stream carries is decided here, once (``on_public_stream``): original tweets (no
retweets), not replies to someone else, as Mastodon's public and hashtag streams do. Posting
wakes the waits in-process once the tweet is committed; deleting such a tweet records it in
``public_deletions`` (kept ``DELETIONS_KEPT_S``) in the delete's own transaction. With Redis the
wake-ups also reach the module's other replicas; waits re-read every ``poll_interval_s`` anyway.
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from redis.asyncio import Redis

from boundaries._kernel.errors import InvalidInput
from boundaries.tweets.dto import PublicChanges
from modules.tweets.audience import PUBLIC, listed
from modules.tweets.tables import metadata, tweets
from modules.tweets.text import parse_entities
from twitterclone.infra.ids import IdGenerator
from twitterclone.infra.live import EVERYONE, RedisWakeups, Seen, Waiters, join_position, split_position
from twitterclone.infra.store import ModuleStore, Transaction

#: Public tweets deleted lately, so open streams can announce it.
public_deletions = sa.Table(
    "public_deletions",
    metadata,
    sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("tweet_id", sa.BigInteger(), nullable=False),
    sa.Column("hashtags", sa.JSON(), nullable=False),
    sa.Column("deleted_at", sa.Float(), nullable=False),
)

#: Seconds a deletion stays in ``public_deletions``.
DELETIONS_KEPT_S = 600.0
#: Rows read per look.
LOOK_BATCH = 100
#: Seconds between the re-reads of a wait (tweets posted through another replica).
POLL_INTERVAL_S = 0.4
#: The longest hashtag a stream may ask for.
MAX_HASHTAG = 100

_t = tweets


def on_public_stream() -> sa.ColumnElement[bool]:
    """Which tweets public streams carry: public originals (``listed``), not replies to another account.

    The one place that decides it (with ``was_on_public_stream``, its twin for a row in hand).
    """
    return sa.and_(
        _t.c.visibility == PUBLIC,
        _t.c.retweet_of_id.is_(None),
        sa.or_(_t.c.reply_to_author_id.is_(None), _t.c.reply_to_author_id == _t.c.author_id),
    )


def was_on_public_stream(row: Any) -> bool:
    """``on_public_stream`` for a row already read (with the same columns)."""
    return (
        listed(row.visibility)
        and row.retweet_of_id is None
        and row.reply_to_author_id in (None, row.author_id)
    )


def _hashtags(entities: Any) -> list[str]:
    tags = entities.get("hashtags") if isinstance(entities, dict) else None
    return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []


def normalize_hashtag(hashtag: str) -> str:
    """A hashtag as tweets keep them: without '#', lower case; InvalidInput if it cannot be one."""
    name = hashtag.removeprefix("#")
    if len(name) > MAX_HASHTAG or parse_entities(f"#{name}").hashtags != [name.lower()]:
        raise InvalidInput(f"not a hashtag: {hashtag!r}", field="hashtag")
    return name.lower()


class LivePublic:
    """Implements ``public_changes`` for the tweets service, and records deletions."""

    def __init__(
        self,
        store: ModuleStore,
        ids: IdGenerator,
        *,
        poll_interval_s: float = POLL_INTERVAL_S,
        redis: Redis | None = None,
        key_prefix: str = "",
    ) -> None:
        self.store = store
        self.ids = ids
        self.waiters = Waiters(poll_interval_s)
        #: With Redis, wake-ups reach the waits held by the module's other replicas at once.
        channel = f"{key_prefix}live:public"
        self.wakeups = RedisWakeups(redis, channel, self.waiters) if redis is not None else None

    async def changes(self, after: str | None, hashtag: str | None, timeout_s: float) -> PublicChanges:
        tag = normalize_hashtag(hashtag) if hashtag is not None else None
        if after is None:
            # From now on; rows already inside the grace window count as seen, so none is replayed.
            start = Seen.starting_now()
            posted = await self._posted(start)
            deleted = await self._deletions(start)
            return PublicChanges(
                position=join_position(start.after(r[0] for r in posted), start.after(r[0] for r in deleted))
            )
        posted_at, deleted_at = split_position(after, 2, "after")

        async def look() -> tuple[list[tuple[int, list[str]]], list[tuple[int, int, list[str]]]]:
            return await self._posted(posted_at), await self._deletions(deleted_at)

        def wanted(tags: list[str]) -> bool:
            return tag is None or tag in tags

        def relevant(found: tuple[list[tuple[int, list[str]]], list[tuple[int, int, list[str]]]]) -> bool:
            return any(wanted(t) for _, t in found[0]) or any(wanted(t) for _, _, t in found[1])

        fresh, gone = await self.waiters.wait(EVERYONE, timeout_s, look, relevant)
        return PublicChanges(
            posted=[str(i) for i, tags in fresh if wanted(tags)],
            deleted=[str(tid) for _, tid, tags in gone if wanted(tags)],
            position=join_position(
                posted_at.after(i for i, _ in fresh), deleted_at.after(r[0] for r in gone)
            ),
        )

    async def posted(self) -> None:
        """A tweet was committed: wake the waits."""
        await self._wake()

    async def listen(self) -> None:
        """A background job: wake-ups published by the other replicas (returns at once without Redis)."""
        if self.wakeups is not None:
            await self.wakeups.listen()

    async def _wake(self) -> None:
        if self.wakeups is not None:
            await self.wakeups.announce(())
        else:
            self.waiters.wake(())

    async def record_deletion(self, tx: Transaction, row: Any) -> None:
        """In the delete's transaction: remember a deleted tweet that public streams carried, and
        wake the waits after the commit (``row``: the tweet's columns as read before the delete)."""
        if not was_on_public_stream(row):
            return
        now = time.time()
        d = public_deletions
        await tx.conn.execute(sa.delete(d).where(d.c.deleted_at < now - DELETIONS_KEPT_S))
        await tx.conn.execute(
            sa.insert(d).values(
                id=self.ids.next_int(), tweet_id=int(row.id), hashtags=_hashtags(row.entities), deleted_at=now
            )
        )

        tx.after_commit(self._wake)

    # --- internals ---------------------------------------------------------------------------

    async def _posted(self, position: Seen) -> list[tuple[int, list[str]]]:
        """Public-stream tweets past the position, oldest first, with their hashtags."""
        query = (
            sa.select(_t.c.id, _t.c.entities)
            .where(_t.c.id > position.floor, on_public_stream())
            .order_by(_t.c.id.asc())
            .limit(LOOK_BATCH)
        )
        async with self.store.read() as conn:
            rows = [(int(i), _hashtags(e)) for i, e in (await conn.execute(query)).all()]
        fresh = set(position.new(r[0] for r in rows))
        return [r for r in rows if r[0] in fresh]

    async def _deletions(self, position: Seen) -> list[tuple[int, int, list[str]]]:
        d = public_deletions
        query = (
            sa.select(d.c.id, d.c.tweet_id, d.c.hashtags)
            .where(d.c.id > position.floor)
            .order_by(d.c.id.asc())
            .limit(LOOK_BATCH)
        )
        async with self.store.read() as conn:
            rows = [
                (int(i), int(t), _hashtags({"hashtags": h})) for i, t, h in (await conn.execute(query)).all()
            ]
        fresh = set(position.new(r[0] for r in rows))
        return [r for r in rows if r[0] in fresh]
