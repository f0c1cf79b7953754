"""Notifications: made from other modules' events, read per user, and waited for (live stream).

A notification is created once per (event, recipient, kind): the consumers dedupe through
the store's inbox and a unique constraint backs that up. Nobody is notified of their own
actions, nor of actions by an account they block or mute (asked of the users port).

Waiting for new notifications is in-process: the consumer wakes the recipient's waiters
after its transaction commits. Waiters also re-read every ``poll_interval_s`` so that a
notification written by another process (several notifications instances) still arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from boundaries._kernel.errors import InvalidInput
from boundaries._kernel.events import Event
from boundaries._kernel.ids import Id, is_id
from boundaries._kernel.pagination import Page, PageRequest
from boundaries.notifications.dto import Notification, NotificationKind, UnreadCount
from boundaries.tweets.events import Retweeted, TweetDeleted, TweetLiked, TweetPosted
from boundaries.users.directory import UserDirectoryPort
from boundaries.users.events import UserFollowed
from modules.notifications.tables import deleted_tweets, notifications, read_markers
from twitterclone.infra.cursor import decode_cursor, encode_cursor
from twitterclone.infra.ids import IdGenerator
from twitterclone.infra.store import ModuleStore, Reader, Transaction

log = logging.getLogger("twitterclone.notifications")

#: The longest a single wait may last, whatever the caller asks.
MAX_WAIT_S = 30.0
#: The most notifications one wait returns (a stream simply asks again for the rest).
MAX_WAIT_BATCH = 100


@dataclass(frozen=True, slots=True)
class _Candidate:
    """A notification the event would make, before the recipient's blocks and mutes are checked."""

    recipient_id: str
    kind: NotificationKind
    actor_id: str
    tweet_id: str | None
    source_id: str | None


class NotificationsService:
    """Implements NotificationsPort; its ``on_*`` methods are the event handlers."""

    def __init__(
        self,
        store: ModuleStore,
        ids: IdGenerator,
        users: UserDirectoryPort,
        *,
        poll_interval_s: float = 5.0,
    ) -> None:
        self._store = store
        self._ids = ids
        self._users = users
        self._poll_interval_s = poll_interval_s
        self._waiters: dict[int, set[asyncio.Event]] = {}

    # ------------------------------------------------------------------ reads (the port)

    async def notifications(self, user_id: Id, page: PageRequest) -> Page[Notification]:
        """A user's notifications, newest first."""
        uid = _user(user_id)
        before = decode_cursor(page.cursor, int) if page.cursor else None
        n = notifications
        query = sa.select(n).where(n.c.recipient_id == uid)
        if before is not None:
            query = query.where(n.c.id < before)
        query = query.order_by(n.c.id.desc()).limit(page.limit + 1)
        async with self._store.read() as conn:
            marker = await self._marker(conn, uid)
            rows = (await conn.execute(query)).all()
        items = [_to_dto(row, marker) for row in rows[: page.limit]]
        next_cursor = encode_cursor(int(items[-1].id)) if len(rows) > page.limit else None
        return Page(items=items, next_cursor=next_cursor)

    async def unread_count(self, user_id: Id) -> UnreadCount:
        """How many of a user's notifications are unread."""
        uid = _user(user_id)
        async with self._store.read() as conn:
            return UnreadCount(unread=await self._unread(conn, uid))

    async def mark_read(self, user_id: Id, up_to_id: Id | None) -> UnreadCount:
        """Mark notifications read up to an id (or all); idempotent, never moves the marker back."""
        uid = _user(user_id)
        if up_to_id is not None and not is_id(up_to_id):
            raise InvalidInput("up_to_id is not an id", field="up_to_id")
        n, m = notifications, read_markers
        async with self._store.transaction() as tx:
            newest = (
                await tx.conn.execute(sa.select(sa.func.max(n.c.id)).where(n.c.recipient_id == uid))
            ).scalar_one_or_none()
            if newest is not None:
                # Capped at the newest existing one: a huge id must not pre-read future notifications.
                target = int(newest) if up_to_id is None else min(int(up_to_id), int(newest))
                dialect: Any = sqlite if tx.conn.dialect.name == "sqlite" else postgresql
                stmt = dialect.insert(m).values(user_id=uid, read_up_to=target)
                stmt = stmt.on_conflict_do_update(
                    index_elements=[m.c.user_id],
                    set_={"read_up_to": sa.func.max(m.c.read_up_to, stmt.excluded.read_up_to)}
                    if tx.conn.dialect.name == "sqlite"
                    else {"read_up_to": sa.func.greatest(m.c.read_up_to, stmt.excluded.read_up_to)},
                )
                await tx.conn.execute(stmt)
            unread = await self._unread(tx.conn, uid)
        return UnreadCount(unread=unread)

    async def wait_for_new(self, user_id: Id, after_id: Id | None, timeout_s: float) -> list[Notification]:
        """Notifications newer than ``after_id`` (all when None), oldest first, waiting up to
        ``timeout_s`` (at most 30 s) for the first; an empty list when none came in time."""
        uid = _user(user_id)
        if after_id is not None and not is_id(after_id):
            raise InvalidInput("after_id is not an id", field="after_id")
        after = int(after_id) if after_id is not None else 0
        timeout = min(max(timeout_s, 0.0), MAX_WAIT_S)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        wake = asyncio.Event()
        # Registered before the first read, so a notification committed in between still wakes us.
        self._waiters.setdefault(uid, set()).add(wake)
        try:
            while True:
                wake.clear()
                found = await self._newer(uid, after)
                remaining = deadline - loop.time()
                if found or remaining <= 0:
                    return found
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), min(remaining, self._poll_interval_s))
        finally:
            waiters = self._waiters.get(uid)
            if waiters is not None:
                waiters.discard(wake)
                if not waiters:
                    del self._waiters[uid]

    # ------------------------------------------------------------------ event handlers

    async def on_tweet_posted(self, event: TweetPosted) -> None:
        """Mentions and replies: the replied-to author gets one reply, not also a mention."""
        candidates: list[_Candidate] = []
        if event.reply_to_author_id is not None:
            candidates.append(
                _Candidate(event.reply_to_author_id, "reply", event.author_id, event.tweet_id, event.tweet_id)
            )
        for mentioned in dict.fromkeys(event.mentioned_user_ids):
            if mentioned != event.reply_to_author_id:
                candidates.append(
                    _Candidate(mentioned, "mention", event.author_id, event.tweet_id, event.tweet_id)
                )
        await self._notify("notifications.mentions", event, candidates)

    async def on_tweet_liked(self, event: TweetLiked) -> None:
        candidate = _Candidate(event.author_id, "like", event.user_id, event.tweet_id, event.tweet_id)
        await self._notify("notifications.likes", event, [candidate])

    async def on_retweeted(self, event: Retweeted) -> None:
        candidate = _Candidate(event.author_id, "retweet", event.user_id, event.tweet_id, event.retweet_id)
        await self._notify("notifications.retweets", event, [candidate])

    async def on_user_followed(self, event: UserFollowed) -> None:
        candidate = _Candidate(event.followee_id, "follow", event.follower_id, None, None)
        await self._notify("notifications.follows", event, [candidate])

    async def on_users_followed(self, events: list[UserFollowed]) -> None:
        """A run of UserFollowed at once (the relay's batch): one transaction for all of them."""
        await self._notify_many(
            "notifications.follows",
            [(e, [_Candidate(e.followee_id, "follow", e.follower_id, None, None)]) for e in events],
        )

    async def on_tweet_deleted(self, event: TweetDeleted) -> None:
        """Notifications about a deleted tweet (or by a deleted retweet) go away with it."""
        tid = int(event.tweet_id)
        n = notifications

        async def effect(tx: Transaction) -> None:
            dialect: Any = sqlite if tx.conn.dialect.name == "sqlite" else postgresql
            await tx.conn.execute(
                dialect.insert(deleted_tweets)
                .values(tweet_id=tid, deleted_at=event.occurred_at)
                .on_conflict_do_nothing()
            )
            await tx.conn.execute(sa.delete(n).where(sa.or_(n.c.tweet_id == tid, n.c.source_id == tid)))

        await self._store.apply_once("notifications.cleanup", event, effect)

    # ------------------------------------------------------------------ internals

    async def _notify(self, consumer: str, event: Event, candidates: list[_Candidate]) -> None:
        await self._notify_many(consumer, [(event, candidates)])

    async def _notify_many(self, consumer: str, items: list[tuple[Event, list[_Candidate]]]) -> None:
        """Notify for several events of one consumer, in order, in one transaction."""
        # Not for one's own actions; then ask the users port (outside the transaction) about
        # blocks and mutes. A users port that cannot answer makes the handler fail: retried later.
        wanted = [
            (event, c) for event, candidates in items for c in candidates if c.recipient_id != c.actor_id
        ]
        if not wanted:
            return
        relations = await asyncio.gather(
            *(self._users.relationship(c.recipient_id, c.actor_id) for _, c in wanted)
        )
        rows_of: dict[str, list[dict[str, Any]]] = {}
        for (event, c), rel in zip(wanted, relations, strict=True):
            if rel.blocking or rel.muting:
                continue
            created_at = (
                event.occurred_at if event.occurred_at.tzinfo else event.occurred_at.replace(tzinfo=UTC)
            )
            rows_of.setdefault(event.event_id, []).append(
                {
                    "recipient_id": int(c.recipient_id),
                    "kind": c.kind,
                    "actor_id": int(c.actor_id),
                    "tweet_id": int(c.tweet_id) if c.tweet_id is not None else None,
                    "source_id": int(c.source_id) if c.source_id is not None else None,
                    "event_id": event.event_id,
                    "created_at": created_at,
                }
            )
        if not rows_of:
            return

        async def effect(tx: Transaction, fresh: list[Event]) -> None:
            rows = [row for event in fresh for row in rows_of[event.event_id]]
            tweet_ids = {r["tweet_id"] for r in rows if r["tweet_id"] is not None} | {
                r["source_id"] for r in rows if r["source_id"] is not None
            }
            if tweet_ids:
                gone = set(
                    (
                        await tx.conn.execute(
                            sa.select(deleted_tweets.c.tweet_id).where(
                                deleted_tweets.c.tweet_id.in_(tweet_ids)
                            )
                        )
                    ).scalars()
                )
                # An event about a tweet deleted before it reached us makes no notification.
                rows = [r for r in rows if r["tweet_id"] not in gone and r["source_id"] not in gone]
            if not rows:
                return
            # Ids are taken inside the transaction (SQLite: under the store's write lock), so ids
            # commit in order and a stream that has seen id N never misses a smaller one later.
            dialect: Any = sqlite if tx.conn.dialect.name == "sqlite" else postgresql
            values = [{**row, "id": self._ids.next_int()} for row in rows]
            await tx.conn.execute(dialect.insert(notifications).values(values).on_conflict_do_nothing())

        events = [event for event, _ in items if event.event_id in rows_of]
        fresh = await self._store.apply_many(consumer, events, effect)
        self._wake(row["recipient_id"] for event in fresh for row in rows_of[event.event_id])

    def _wake(self, recipients: Iterable[int]) -> None:
        for uid in recipients:
            for waiter in self._waiters.get(uid, ()):
                waiter.set()

    async def _newer(self, uid: int, after: int) -> list[Notification]:
        n = notifications
        query = (
            sa.select(n)
            .where(n.c.recipient_id == uid, n.c.id > after)
            .order_by(n.c.id.asc())
            .limit(MAX_WAIT_BATCH)
        )
        async with self._store.read() as conn:
            rows = (await conn.execute(query)).all()
            marker = await self._marker(conn, uid) if rows else 0
        return [_to_dto(row, marker) for row in rows]

    @staticmethod
    async def _marker(conn: Reader, uid: int) -> int:
        m = read_markers
        value = (await conn.execute(sa.select(m.c.read_up_to).where(m.c.user_id == uid))).scalar_one_or_none()
        return int(value) if value is not None else 0

    async def _unread(self, conn: Reader, uid: int) -> int:
        marker = await self._marker(conn, uid)
        n = notifications
        count = (
            await conn.execute(
                sa.select(sa.func.count()).select_from(n).where(n.c.recipient_id == uid, n.c.id > marker)
            )
        ).scalar_one()
        return int(count)


def _user(user_id: str) -> int:
    # An id that is not an id has no notifications; -1 matches nothing.
    return int(user_id) if is_id(user_id) else -1


def _to_dto(row: Any, marker: int) -> Notification:
    created_at: datetime = row.created_at
    if created_at.tzinfo is None:  # SQLite hands naive datetimes back
        created_at = created_at.replace(tzinfo=UTC)
    return Notification(
        id=str(row.id),
        kind=row.kind,
        actor_id=str(row.actor_id),
        tweet_id=str(row.tweet_id) if row.tweet_id is not None else None,
        created_at=created_at,
        read=row.id <= marker,
    )
