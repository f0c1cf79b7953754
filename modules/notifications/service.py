"""Notifications: made from other modules' events, read per user, and waited for (live stream).

A notification is created once per (event, recipient, kind): the kernel hands each consumer
only events its inbox has not recorded, in the transaction that records them, and a unique
constraint backs that up. Nobody is notified of their own actions, nor of actions by an
account they block or mute (asked of the users port before the transaction opens).

Waiting for new notifications (``wait_for_new``, the live streams' long-poll): the consumer wakes
the recipient's waits after its transaction commits, in its process and, where the deployment
has Redis, in the module's other processes too (``RedisWakeups``, channel
``<prefix>live:notifications``), so a wait held by another replica returns at once. Waits also
re-read every ``poll_interval_s``, the fallback if a wake-up is lost. Notification ids commit in
increasing order (``_ids_in_commit_order``), so resuming after the newest id seen loses nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from redis.asyncio import Redis

from boundaries._kernel.errors import InvalidInput
from boundaries._kernel.events import Event
from boundaries._kernel.ids import Id, is_id
from boundaries._kernel.pagination import Page, PageRequest
from boundaries.notifications.dto import (
    Marker,
    MarkerUpdate,
    Notification,
    NotificationFilter,
    NotificationKind,
    UnreadCount,
)
from boundaries.notifications.errors import NotificationNotFound
from boundaries.tweets.events import Retweeted, TweetDeleted, TweetLiked, TweetPosted
from boundaries.users.directory import UserDirectoryPort
from boundaries.users.errors import UserNotFound
from boundaries.users.events import UserFollowed
from modules.notifications.tables import deleted_tweets, markers, notifications, read_markers
from twitterclone.infra.cursor import decode_cursor, encode_cursor
from twitterclone.infra.events import Handle
from twitterclone.infra.ids import IdGenerator
from twitterclone.infra.live import RedisWakeups, Waiters
from twitterclone.infra.sql import PerDialect, as_utc, greatest, insert_or_ignore, upsertable
from twitterclone.infra.store import HotRead, HotWrite, ModuleStore, Reader, Transaction

log = logging.getLogger("twitterclone.notifications")

#: The most notifications one wait returns (a stream simply asks again for the rest).
MAX_WAIT_BATCH = 100
#: Full batches of notifications from silenced actors one wait skips over before it gives up.
MAX_SKIPPED_BATCHES = 10
#: Actors asked about in one users call (the users port takes up to 5000).
SILENCE_BATCH = 1000

E = TypeVar("E", bound=Event)

#: The statements every notification write runs, built once (not per like, follow or mention).
_DELETED_AMONG = HotRead(
    sa.select(deleted_tweets.c.tweet_id).where(
        deleted_tweets.c.tweet_id.in_(sa.bindparam("ids", expanding=True))
    )
)
_NEWEST_ID = HotRead(sa.select(sa.func.max(notifications.c.id)))
#: The columns of a notification row, as the consumers write them.
_COLUMNS = ("id", "recipient_id", "kind", "actor_id", "tweet_id", "source_id", "event_id", "created_at")
#: The insert of a batch's notifications (one that exists already is skipped), built once per
#: dialect. A batch's multi-row ``insert().values([...])`` was compiled anew for every batch.
_INSERT_NOTIFICATIONS = PerDialect(
    lambda dialect: HotWrite(insert_or_ignore(dialect, notifications), _COLUMNS)
)


def _lock_key(name: str) -> int:
    """A PostgreSQL advisory lock key (signed 64 bits) for a name."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


@dataclass(frozen=True, slots=True)
class _Candidate:
    """A notification the event would make, before the recipient's blocks and mutes are checked."""

    recipient_id: str
    kind: NotificationKind
    actor_id: str
    tweet_id: str | None
    source_id: str | None


class NotificationsService:
    """Implements NotificationsPort; its ``notify_*`` and ``remove_deleted`` methods are the
    event handlers (``consumer.py`` subscribes them)."""

    def __init__(
        self,
        store: ModuleStore,
        ids: IdGenerator,
        users: UserDirectoryPort,
        *,
        poll_interval_s: float = 5.0,
        redis: Redis | None = None,
        key_prefix: str = "",
    ) -> None:
        self.store = store
        self._ids = ids
        self._users = users
        self.waiters = Waiters(poll_interval_s)
        #: With Redis, wake-ups reach the waits held by the module's other replicas at once.
        self.wakeups = (
            RedisWakeups(redis, f"{key_prefix}live:notifications", self.waiters)
            if redis is not None
            else None
        )
        #: The advisory lock that orders notification writes (PostgreSQL), one per store schema.
        self._order_lock = _lock_key(f"{store.schema or 'public'}.notifications.ids")

    # ------------------------------------------------------------------ reads (the port)

    async def notifications(
        self, user_id: Id, page: PageRequest, only: NotificationFilter | None = None
    ) -> Page[Notification]:
        """A user's notifications, newest first (id bounds honoured), of the kinds ``only`` lets through."""
        uid = _user(user_id)
        before = decode_cursor(page.cursor, int) if page.cursor else None
        if page.max_id is not None:
            before = int(page.max_id) if before is None else min(before, int(page.max_id))
        bounds = [int(b) for b in (page.since_id, page.min_id) if b is not None]
        n = notifications
        query = sa.select(n).where(n.c.recipient_id == uid)
        if before is not None:
            query = query.where(n.c.id < before)
        if bounds:
            query = query.where(n.c.id > max(bounds))
        if only is not None and only.kinds:
            query = query.where(n.c.kind.in_(only.kinds))
        if only is not None and only.exclude:
            query = query.where(n.c.kind.not_in(only.exclude))
        # min_id: the page just above it, read upwards, then shown newest first.
        newest_first = page.min_id is None
        query = query.order_by(n.c.id.desc() if newest_first else n.c.id.asc()).limit(page.limit + 1)
        async with self.store.read() as conn:
            marker = await self._marker(conn, uid)
            rows = (await conn.execute(query)).all()
        if newest_first:
            shown = list(rows[: page.limit])
            more = len(rows) > page.limit
        else:
            shown = list(reversed(rows[: page.limit]))
            more = bool(shown)  # older ones follow: min_id's own at least
        # The cursor follows what was read, so a page thinned by a block still pages on.
        next_cursor = encode_cursor(int(shown[-1].id)) if more and shown else None
        items = [_to_dto(row, marker) for row in await self._still_heard(uid, shown)]
        return Page(items=items, next_cursor=next_cursor)

    async def _still_heard(self, uid: int, rows: Sequence[Any]) -> Sequence[Any]:
        """Leave out notifications from actors the recipient has blocked, been blocked by or
        muted since they were made (one users call per page; none when the page is empty)."""
        silenced = await self._silenced(uid, {int(r.actor_id) for r in rows})
        return [r for r in rows if r.actor_id not in silenced] if silenced else rows

    async def _silenced(self, uid: int, actors: Iterable[int]) -> set[int]:
        """Which of ``actors`` the recipient no longer hears from (a block either way, a mute):
        what the list, the unread count and the waits all leave out. One users call per
        ``SILENCE_BATCH`` actors; none when there are none."""
        asked = sorted(a for a in set(actors) if a != uid)
        silenced: set[int] = set()
        for start in range(0, len(asked), SILENCE_BATCH):
            batch = [str(a) for a in asked[start : start + SILENCE_BATCH]]
            silenced.update(
                int(s.user_id)
                for s in await self._users.standings(str(uid), batch, [])
                if s.blocking or s.blocked_by or s.muting
            )
        return silenced

    async def notification(self, user_id: Id, notification_id: Id) -> Notification:
        """One of a user's notifications; raises NotificationNotFound (also for someone else's)."""
        uid = _user(user_id)
        n = notifications
        if not is_id(notification_id):
            raise NotificationNotFound("no such notification")
        async with self.store.read() as conn:
            row = (
                await conn.execute(
                    sa.select(n).where(n.c.id == int(notification_id), n.c.recipient_id == uid)
                )
            ).first()
            if row is None:
                raise NotificationNotFound("no such notification")
            marker = await self._marker(conn, uid)
        if not await self._still_heard(uid, [row]):
            raise NotificationNotFound("no such notification")  # from someone blocked or muted since
        return _to_dto(row, marker)

    async def dismiss(self, user_id: Id, notification_id: Id) -> None:
        """Delete one of a user's notifications; idempotent (an unknown id is no error)."""
        uid = _user(user_id)
        if not is_id(notification_id):
            return
        n = notifications
        async with self.store.transaction() as tx:
            await tx.conn.execute(sa.delete(n).where(n.c.id == int(notification_id), n.c.recipient_id == uid))

    async def clear(self, user_id: Id) -> None:
        """Delete every notification of a user."""
        uid = _user(user_id)
        async with self.store.transaction() as tx:
            await tx.conn.execute(sa.delete(notifications).where(notifications.c.recipient_id == uid))

    async def markers(self, user_id: Id) -> list[Marker]:
        """Where a user has read up to, per timeline that has a marker."""
        uid = _user(user_id)
        async with self.store.read() as conn:
            rows = (
                await conn.execute(
                    sa.select(markers).where(markers.c.user_id == uid).order_by(markers.c.timeline)
                )
            ).all()
        return [_to_marker(row) for row in rows]

    async def set_markers(self, user_id: Id, updates: list[MarkerUpdate]) -> list[Marker]:
        """Move markers (the notifications one also marks notifications read up to it); the markers set."""
        uid = _user(user_id)
        if uid < 0:
            raise InvalidInput("markers belong to accounts", field="user_id")
        latest = {u.timeline: int(u.last_read_id) for u in updates}  # the last one given wins
        now = datetime.now(UTC)
        k = markers
        async with self.store.transaction() as tx:
            for timeline, last_read in latest.items():
                stmt = upsertable(tx.conn, k).values(
                    user_id=uid, timeline=timeline, last_read_id=last_read, version=1, updated_at=now
                )
                stmt = stmt.on_conflict_do_update(
                    index_elements=[k.c.user_id, k.c.timeline],
                    set_={"last_read_id": last_read, "version": k.c.version + 1, "updated_at": now},
                )
                await tx.conn.execute(stmt)
                if timeline == "notifications":
                    read = upsertable(tx.conn, read_markers).values(user_id=uid, read_up_to=last_read)
                    read = read.on_conflict_do_update(
                        index_elements=[read_markers.c.user_id],
                        set_={"read_up_to": greatest(read_markers.c.read_up_to, read.excluded.read_up_to)},
                    )
                    await tx.conn.execute(read)
            rows = (
                await tx.conn.execute(
                    sa.select(k)
                    .where(k.c.user_id == uid, k.c.timeline.in_(list(latest)))
                    .order_by(k.c.timeline)
                )
            ).all()
        return [_to_marker(row) for row in rows]

    async def unread_count(self, user_id: Id) -> UnreadCount:
        """How many of a user's notifications are unread (those the list shows: none from an
        account blocked or muted since)."""
        uid = _user(user_id)
        async with self.store.read() as conn:
            by_actor = await self._unread_by_actor(conn, uid)
        return UnreadCount(unread=await self._heard_count(uid, by_actor))

    async def mark_read(self, user_id: Id, up_to_id: Id | None) -> UnreadCount:
        """Mark notifications read up to an id (or all); idempotent, never moves the marker back."""
        uid = _user(user_id)
        if up_to_id is not None and not is_id(up_to_id):
            raise InvalidInput("up_to_id is not an id", field="up_to_id")
        n, m = notifications, read_markers
        async with self.store.transaction() as tx:
            newest = (
                await tx.conn.execute(sa.select(sa.func.max(n.c.id)).where(n.c.recipient_id == uid))
            ).scalar_one_or_none()
            if newest is not None:
                # Capped at the newest existing one: a huge id must not pre-read future notifications.
                target = int(newest) if up_to_id is None else min(int(up_to_id), int(newest))
                stmt = upsertable(tx.conn, m).values(user_id=uid, read_up_to=target)
                stmt = stmt.on_conflict_do_update(
                    index_elements=[m.c.user_id],
                    set_={"read_up_to": greatest(m.c.read_up_to, stmt.excluded.read_up_to)},
                )
                await tx.conn.execute(stmt)
            by_actor = await self._unread_by_actor(tx.conn, uid)
        return UnreadCount(unread=await self._heard_count(uid, by_actor))  # users asked outside the tx

    async def wait_for_new(self, user_id: Id, after_id: Id | None, timeout_s: float) -> list[Notification]:
        """Notifications newer than ``after_id`` (all when None), oldest first, waiting up to
        ``timeout_s`` (at most 30 s) for the first; an empty list when none came in time."""
        uid = _user(user_id)
        if after_id is not None and not is_id(after_id):
            raise InvalidInput("after_id is not an id", field="after_id")
        after = int(after_id) if after_id is not None else 0
        return await self.waiters.wait(uid, timeout_s, lambda: self._newer(uid, after), bool)

    async def listen(self) -> None:
        """A background job: wake-ups published by the other replicas (returns at once without Redis)."""
        if self.wakeups is not None:
            await self.wakeups.listen()

    # ------------------------------------------------------------------ event handlers
    # ``notify_*`` run before the kernel's transaction (they ask users about blocks and mutes)
    # and return what to write in it; they get only events not applied before.

    async def notify_mentions(self, events: list[TweetPosted]) -> Handle[TweetPosted]:
        """Mentions and replies: the replied-to author gets one reply, not also a mention."""
        return await self._notifier(events, _mentions_and_replies)

    async def notify_likes(self, events: list[TweetLiked]) -> Handle[TweetLiked]:
        return await self._notifier(
            events, lambda e: [_Candidate(e.author_id, "like", e.user_id, e.tweet_id, e.tweet_id)]
        )

    async def notify_retweets(self, events: list[Retweeted]) -> Handle[Retweeted]:
        return await self._notifier(
            events, lambda e: [_Candidate(e.author_id, "retweet", e.user_id, e.tweet_id, e.retweet_id)]
        )

    async def notify_follows(self, events: list[UserFollowed]) -> Handle[UserFollowed]:
        return await self._notifier(
            events, lambda e: [_Candidate(e.followee_id, "follow", e.follower_id, None, None)]
        )

    async def remove_deleted(self, tx: Transaction, events: list[TweetDeleted]) -> None:
        """Notifications about a deleted tweet (or by a deleted retweet) go away with it; the
        tweet is remembered, so an event about it that arrives later notifies nobody."""
        n = notifications
        for event in events:
            tid = int(event.tweet_id)
            await tx.conn.execute(
                insert_or_ignore(tx.conn, deleted_tweets).values(tweet_id=tid, deleted_at=event.occurred_at)
            )
            await tx.conn.execute(sa.delete(n).where(sa.or_(n.c.tweet_id == tid, n.c.source_id == tid)))

    # ------------------------------------------------------------------ internals

    async def _reachable(self, pairs: set[tuple[Id, Id]]) -> set[tuple[Id, Id]]:
        """The (actor, recipient) pairs where the recipient neither blocks nor mutes the actor, and
        the actor does not block the recipient (who may then not see what the actor posts).

        One users call per actor, however many recipients (``silencing``); an actor or a
        recipient users no longer knows reaches nobody.
        """
        by_actor: dict[Id, list[Id]] = {}
        for actor, recipient in pairs:
            by_actor.setdefault(actor, []).append(recipient)

        async def ask(actor: Id, recipients: list[Id]) -> list[tuple[Id, Id]]:
            try:
                answers = await self._users.silencing(actor, recipients)
            except UserNotFound:
                return []
            # A block either way: the actor's posts do not reach the recipient, nor the reverse.
            return [(actor, a.user_id) for a in answers if not (a.blocking or a.muting or a.blocked)]

        if len(by_actor) == 1:  # a like's or a follow's batch, often: no task to gather
            [(actor, recipients)] = by_actor.items()
            return set(await ask(actor, recipients))
        found = await asyncio.gather(*(ask(actor, recipients) for actor, recipients in by_actor.items()))
        return {pair for pairs_of_actor in found for pair in pairs_of_actor}

    async def _notifier(self, events: list[E], candidates_of: Callable[[E], list[_Candidate]]) -> Handle[E]:
        """Ask users about blocks and mutes (outside any transaction); return the writes of the
        notifications that remain, for the transaction that records the events."""
        # Not for one's own actions. A users port that cannot answer makes this fail: retried later.
        wanted = [
            (event, c) for event in events for c in candidates_of(event) if c.recipient_id != c.actor_id
        ]
        reachable = await self._reachable({(c.actor_id, c.recipient_id) for _, c in wanted})
        rows_of: dict[str, list[dict[str, Any]]] = {}
        for event, c in wanted:
            if (c.actor_id, c.recipient_id) not in reachable:
                continue
            created_at = as_utc(event.occurred_at)
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

        async def write(tx: Transaction, fresh: list[E]) -> None:
            rows = [row for event in fresh for row in rows_of.get(event.event_id, ())]
            tweet_ids = {r["tweet_id"] for r in rows if r["tweet_id"] is not None} | {
                r["source_id"] for r in rows if r["source_id"] is not None
            }
            if tweet_ids:
                gone = {int(r[0]) for r in await tx.fetch(_DELETED_AMONG, {"ids": list(tweet_ids)})}
                # An event about a tweet deleted before it reached us makes no notification.
                rows = [r for r in rows if r["tweet_id"] not in gone and r["source_id"] not in gone]
            if not rows:
                return
            ids = await self._ids_in_commit_order(tx, len(rows))
            values = [{**row, "id": i} for row, i in zip(rows, ids, strict=True)]
            await tx.write_rows(_INSERT_NOTIFICATIONS(tx.conn), values)
            recipients = {row["recipient_id"] for row in rows}

            async def wake() -> None:
                if self.wakeups is not None:
                    await self.wakeups.announce(recipients)
                else:
                    self.waiters.wake(recipients)

            tx.after_commit(wake)

        return write

    async def _ids_in_commit_order(self, tx: Transaction, count: int) -> list[int]:
        """Ids for new notifications, each above every id already written, held in order until
        this transaction ends: notification ids commit in increasing order.

        A stream resumes after the newest id it has handed out (``wait_for_new``), so a smaller
        id that commits later would never reach it. Several writers run at once (the consumers
        here, the module's replicas): SQLite's store lock already lets one write at a time; on
        PostgreSQL a transaction-scoped advisory lock does, and taking the ids above the newest
        one makes the order independent of the writers' clocks and worker ids.
        """
        if not self.store.is_sqlite:
            await tx.conn.execute(sa.select(sa.func.pg_advisory_xact_lock(self._order_lock)))
        [(newest,)] = await tx.fetch(_NEWEST_ID, {})
        last = int(newest) if newest is not None else 0
        ids: list[int] = []
        for _ in range(count):
            last = max(self._ids.next_int(), last + 1)
            ids.append(last)
        return ids

    async def _newer(self, uid: int, after: int) -> list[Notification]:
        """Notifications after ``after`` the recipient still hears from, oldest first.

        New ones across a block or mute are never made (``_reachable``), but a wait resumed from
        an older id (``Last-Event-ID``, a stream's baseline) also reads ones made before a block
        or mute: they are left out as the list leaves them out. A full batch of only such ones
        is skipped over (at most ``MAX_SKIPPED_BATCHES``), so that it cannot hide what follows.
        """
        n = notifications
        for _ in range(MAX_SKIPPED_BATCHES):
            query = (
                sa.select(n)
                .where(n.c.recipient_id == uid, n.c.id > after)
                .order_by(n.c.id.asc())
                .limit(MAX_WAIT_BATCH)
            )
            async with self.store.read() as conn:
                rows = (await conn.execute(query)).all()
                marker = await self._marker(conn, uid) if rows else 0
            heard = await self._still_heard(uid, rows)
            if heard or len(rows) < MAX_WAIT_BATCH:
                return [_to_dto(row, marker) for row in heard]
            after = int(rows[-1].id)
        return []

    @staticmethod
    async def _marker(conn: Reader, uid: int) -> int:
        m = read_markers
        value = (await conn.execute(sa.select(m.c.read_up_to).where(m.c.user_id == uid))).scalar_one_or_none()
        return int(value) if value is not None else 0

    async def _unread_by_actor(self, conn: Reader, uid: int) -> dict[int, int]:
        """How many notifications past the read marker each actor made."""
        marker = await self._marker(conn, uid)
        n = notifications
        rows = await conn.execute(
            sa.select(n.c.actor_id, sa.func.count())
            .where(n.c.recipient_id == uid, n.c.id > marker)
            .group_by(n.c.actor_id)
        )
        return {int(actor): int(count) for actor, count in rows.all()}

    async def _heard_count(self, uid: int, by_actor: dict[int, int]) -> int:
        """The unread count as the list shows it: actors silenced since are not counted."""
        silenced = await self._silenced(uid, by_actor)
        return sum(count for actor, count in by_actor.items() if actor not in silenced)


def _mentions_and_replies(event: TweetPosted) -> list[_Candidate]:
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
    return candidates


def _user(user_id: str) -> int:
    # An id that is not an id has no notifications; -1 matches nothing.
    return int(user_id) if is_id(user_id) else -1


def _to_marker(row: Any) -> Marker:
    return Marker(
        timeline=row.timeline,
        last_read_id=str(row.last_read_id),
        version=int(row.version),
        updated_at=as_utc(row.updated_at),
    )


def _to_dto(row: Any, marker: int) -> Notification:
    created_at: datetime = row.created_at  # aware UTC (UtcDateTime)
    return Notification(
        id=str(row.id),
        kind=row.kind,
        actor_id=str(row.actor_id),
        tweet_id=str(row.tweet_id) if row.tweet_id is not None else None,
        created_at=created_at,
        read=row.id <= marker,
    )
