"""The notifications service against a real SQLite store, fed constructed events."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from redis.asyncio import Redis

from boundaries._kernel.errors import InvalidInput
from boundaries._kernel.events import Event
from boundaries._kernel.pagination import PageRequest
from boundaries.tweets.events import Retweeted, TweetDeleted, TweetLiked, TweetPosted
from boundaries.users.directory import UserDirectoryPort
from boundaries.users.dto import Silencing, Standing
from boundaries.users.errors import UserNotFound
from boundaries.users.events import UserFollowed
from modules.notifications.consumer import NotificationsConsumer
from modules.notifications.service import NotificationsService
from tests.support.consumers import apply
from tests.support.databases import Storage
from twitterclone.infra.ids import IdGenerator
from twitterclone.infra.store import ModuleStore

ALICE, BOB, CAROL = "1001", "1002", "1003"
IDS = IdGenerator(7)


class FakeUsers:
    """Only what notifications asks of users: whether recipients block or mute an actor."""

    def __init__(self) -> None:
        self.blocks: set[tuple[str, str]] = set()
        self.mutes: set[tuple[str, str]] = set()
        self.gone: set[str] = set()  # accounts users no longer knows
        self.calls = 0
        self.fail = False

    async def standings(self, viewer_id: str, user_ids: list[str], follow_ids: list[str]) -> list[Standing]:
        if self.fail:
            raise ConnectionError("users is down")
        return [
            Standing(
                user_id=u,
                blocking=(viewer_id, u) in self.blocks,
                blocked_by=(u, viewer_id) in self.blocks,
                muting=(viewer_id, u) in self.mutes,
            )
            for u in user_ids
            if (viewer_id, u) in self.blocks or (u, viewer_id) in self.blocks or (viewer_id, u) in self.mutes
        ]

    async def silencing(self, actor_id: str, user_ids: list[str]) -> list[Silencing]:
        self.calls += 1
        if self.fail:
            raise ConnectionError("users is down")
        if actor_id in self.gone:
            raise UserNotFound(f"no user {actor_id}")
        return [
            Silencing(
                user_id=u,
                actor_id=actor_id,
                blocking=(u, actor_id) in self.blocks,
                muting=(u, actor_id) in self.mutes,
                blocked=(actor_id, u) in self.blocks,
            )
            for u in user_ids
            if u not in self.gone
        ]


@pytest.fixture
def users() -> FakeUsers:
    return FakeUsers()


@pytest.fixture
async def service(storage: Storage, users: FakeUsers) -> AsyncIterator[NotificationsService]:
    url, schema = (await storage.migrated(["notifications"]))[
        "notifications"
    ]  # SQLite file or PostgreSQL schema
    store = ModuleStore("notifications", url, schema=schema)
    yield NotificationsService(store, IDS, cast(UserDirectoryPort, users), poll_interval_s=0.2)
    await store.dispose()


async def feed(service: NotificationsService, event: Event) -> None:
    """Deliver one event as the kernel does (raises what the handler raises)."""
    await apply(NotificationsConsumer(service).subscriptions(), event)


def _now() -> datetime:
    return datetime.now(UTC)


def posted(
    author: str, *, mentions: list[str] | None = None, reply_to: tuple[str, str] | None = None
) -> TweetPosted:
    tweet_id = IDS.next()
    return TweetPosted(
        event_id=IDS.next(),
        occurred_at=_now(),
        tweet_id=tweet_id,
        author_id=author,
        created_at=_now(),
        text="hello",
        conversation_id=reply_to[0] if reply_to else tweet_id,
        reply_to_id=reply_to[0] if reply_to else None,
        reply_to_author_id=reply_to[1] if reply_to else None,
        mentioned_user_ids=mentions or [],
    )


def liked(user: str, author: str, tweet_id: str) -> TweetLiked:
    return TweetLiked(
        event_id=IDS.next(), occurred_at=_now(), tweet_id=tweet_id, author_id=author, user_id=user
    )


def retweeted(user: str, author: str, tweet_id: str) -> Retweeted:
    return Retweeted(
        event_id=IDS.next(),
        occurred_at=_now(),
        retweet_id=IDS.next(),
        tweet_id=tweet_id,
        author_id=author,
        user_id=user,
        created_at=_now(),
    )


def followed(follower: str, followee: str) -> UserFollowed:
    return UserFollowed(event_id=IDS.next(), occurred_at=_now(), follower_id=follower, followee_id=followee)


async def kinds(service: NotificationsService, user: str) -> list[tuple[str, str, str | None]]:
    page = await service.notifications(user, PageRequest(limit=100))
    return [(n.kind, n.actor_id, n.tweet_id) for n in page.items]


async def test_one_users_call_per_actor_however_many_recipients(
    service: NotificationsService, users: FakeUsers
) -> None:
    users.mutes.add((CAROL, ALICE))
    users.gone.add("1009")
    await feed(service, posted(ALICE, mentions=[BOB, CAROL, "1009"]))
    assert users.calls == 1
    assert await kinds(service, BOB) != []
    assert await kinds(service, CAROL) == []  # muted ALICE
    assert await kinds(service, "1009") == []  # no such account any more


async def test_an_actor_users_no_longer_knows_notifies_nobody(
    service: NotificationsService, users: FakeUsers
) -> None:
    users.gone.add(ALICE)
    await feed(service, posted(ALICE, mentions=[BOB]))  # applied, not retried forever
    assert await kinds(service, BOB) == []


async def test_mention_reply_like_retweet_follow_each_notify_the_right_person(
    service: NotificationsService,
) -> None:
    tweet = posted(ALICE, mentions=[BOB])
    await feed(service, tweet)
    reply = posted(BOB, reply_to=(tweet.tweet_id, ALICE))
    await feed(service, reply)
    await feed(service, liked(CAROL, ALICE, tweet.tweet_id))
    await feed(service, retweeted(CAROL, ALICE, tweet.tweet_id))
    await feed(service, followed(BOB, ALICE))

    assert await kinds(service, BOB) == [("mention", ALICE, tweet.tweet_id)]
    assert await kinds(service, ALICE) == [
        ("follow", BOB, None),
        ("retweet", CAROL, tweet.tweet_id),
        ("like", CAROL, tweet.tweet_id),
        ("reply", BOB, reply.tweet_id),
    ]
    assert await kinds(service, CAROL) == []


async def test_a_reply_that_also_mentions_the_author_notifies_once(service: NotificationsService) -> None:
    parent = posted(ALICE)
    await feed(service, parent)
    await feed(service, posted(BOB, reply_to=(parent.tweet_id, ALICE), mentions=[ALICE, CAROL, CAROL]))
    assert [k for k, _, _ in await kinds(service, ALICE)] == ["reply"]
    assert [k for k, _, _ in await kinds(service, CAROL)] == ["mention"]


async def test_own_actions_never_notify(service: NotificationsService, users: FakeUsers) -> None:
    tweet = posted(ALICE, mentions=[ALICE])
    await feed(service, tweet)
    await feed(service, posted(ALICE, reply_to=(tweet.tweet_id, ALICE)))
    await feed(service, liked(ALICE, ALICE, tweet.tweet_id))
    await feed(service, retweeted(ALICE, ALICE, tweet.tweet_id))
    assert await kinds(service, ALICE) == []
    assert (await service.unread_count(ALICE)).unread == 0


async def test_blocked_or_muted_actors_do_not_notify(service: NotificationsService, users: FakeUsers) -> None:
    users.blocks.add((BOB, ALICE))  # bob blocks alice
    users.mutes.add((CAROL, ALICE))  # carol mutes alice
    await feed(service, posted(ALICE, mentions=[BOB, CAROL]))
    await feed(service, followed(ALICE, BOB))
    assert await kinds(service, BOB) == []
    assert await kinds(service, CAROL) == []
    # Someone else still reaches bob.
    await feed(service, followed(CAROL, BOB))
    assert await kinds(service, BOB) == [("follow", CAROL, None)]


async def test_an_actor_who_blocks_the_recipient_does_not_notify_them(
    service: NotificationsService, users: FakeUsers
) -> None:
    users.blocks.add((ALICE, BOB))  # alice blocks bob: bob may not see her tweet
    await feed(service, posted(ALICE, mentions=[BOB, CAROL]))
    assert await kinds(service, BOB) == []
    assert [k for k, _, _ in await kinds(service, CAROL)] == ["mention"]


async def test_a_block_or_mute_made_later_hides_earlier_notifications(
    service: NotificationsService, users: FakeUsers
) -> None:
    await feed(service, followed(ALICE, BOB))
    await feed(service, followed(CAROL, BOB))
    assert [actor for _, actor, _ in await kinds(service, BOB)] == [CAROL, ALICE]
    users.blocks.add((ALICE, BOB))  # alice blocks bob: bob hears from her no more either
    assert [actor for _, actor, _ in await kinds(service, BOB)] == [CAROL]
    users.blocks.clear()
    users.mutes.add((BOB, CAROL))
    assert [actor for _, actor, _ in await kinds(service, BOB)] == [ALICE]


async def test_redelivered_events_notify_once(service: NotificationsService) -> None:
    tweet = posted(ALICE, mentions=[BOB])
    like = liked(BOB, ALICE, tweet.tweet_id)
    for _ in range(3):
        await feed(service, tweet)
        await feed(service, like)
    assert len(await kinds(service, BOB)) == 1
    assert len(await kinds(service, ALICE)) == 1
    assert (await service.unread_count(ALICE)).unread == 1


async def test_failing_users_port_raises_so_the_relay_retries(
    service: NotificationsService, users: FakeUsers
) -> None:
    users.fail = True
    event = posted(ALICE, mentions=[BOB])
    with pytest.raises(ConnectionError):
        await feed(service, event)
    users.fail = False
    await feed(service, event)  # the retry is not swallowed by the inbox
    assert [k for k, _, _ in await kinds(service, BOB)] == ["mention"]


async def test_pages_are_newest_first_with_a_cursor(service: NotificationsService) -> None:
    for _ in range(5):
        await feed(service, followed(BOB, ALICE))
    first = await service.notifications(ALICE, PageRequest(limit=2))
    second = await service.notifications(ALICE, PageRequest(limit=2, cursor=first.next_cursor))
    third = await service.notifications(ALICE, PageRequest(limit=2, cursor=second.next_cursor))
    ids = [int(n.id) for page in (first, second, third) for n in page.items]
    assert len(ids) == 5
    assert ids == sorted(ids, reverse=True)
    assert third.next_cursor is None


async def test_mark_read_up_to_an_id_then_all(service: NotificationsService) -> None:
    for _ in range(4):
        await feed(service, followed(BOB, ALICE))
    items = (await service.notifications(ALICE, PageRequest())).items
    assert (await service.unread_count(ALICE)).unread == 4
    assert all(not n.read for n in items)

    second_oldest = items[2].id
    assert (await service.mark_read(ALICE, second_oldest)).unread == 2
    assert (await service.mark_read(ALICE, second_oldest)).unread == 2  # idempotent
    assert (await service.mark_read(ALICE, items[3].id)).unread == 2  # never moves back
    read = [n.read for n in (await service.notifications(ALICE, PageRequest())).items]
    assert read == [False, False, True, True]

    assert (await service.mark_read(ALICE, None)).unread == 0
    # A later notification is unread again: "all" meant all that existed.
    await feed(service, followed(CAROL, ALICE))
    assert (await service.unread_count(ALICE)).unread == 1
    # An id far in the future does not pre-read what comes next.
    assert (await service.mark_read(ALICE, "9" * 18)).unread == 0
    await feed(service, followed(CAROL, ALICE))
    assert (await service.unread_count(ALICE)).unread == 1


async def test_mark_read_with_nothing_is_zero(service: NotificationsService) -> None:
    assert (await service.mark_read(CAROL, None)).unread == 0
    with pytest.raises(InvalidInput):
        await service.mark_read(CAROL, "not-an-id")


async def test_deleting_a_tweet_removes_its_notifications_even_late_ones(
    service: NotificationsService,
) -> None:
    tweet = posted(ALICE, mentions=[BOB])
    await feed(service, tweet)
    rt = retweeted(BOB, ALICE, tweet.tweet_id)
    other = posted(CAROL, mentions=[BOB])
    await feed(service, other)
    await feed(service, rt)
    assert len(await kinds(service, ALICE)) == 1

    # Undoing the retweet deletes the retweet itself: its notification goes.
    await feed(
        service, TweetDeleted(event_id=IDS.next(), occurred_at=_now(), tweet_id=rt.retweet_id, author_id=BOB)
    )
    assert await kinds(service, ALICE) == []

    await feed(
        service,
        TweetDeleted(event_id=IDS.next(), occurred_at=_now(), tweet_id=tweet.tweet_id, author_id=ALICE),
    )
    assert await kinds(service, BOB) == [("mention", CAROL, other.tweet_id)]
    # A like of the deleted tweet that arrives late notifies nobody.
    await feed(service, liked(CAROL, ALICE, tweet.tweet_id))
    assert await kinds(service, ALICE) == []


async def test_wait_for_new_returns_at_once_when_there_are_newer(service: NotificationsService) -> None:
    await feed(service, followed(BOB, ALICE))
    await feed(service, followed(CAROL, ALICE))
    started = time.monotonic()
    got = await service.wait_for_new(ALICE, None, 5)
    assert time.monotonic() - started < 1
    assert [n.actor_id for n in got] == [BOB, CAROL]  # oldest first
    assert await service.wait_for_new(ALICE, got[0].id, 5) == [got[1]]


async def test_wait_for_new_wakes_when_a_notification_arrives(service: NotificationsService) -> None:
    await feed(service, followed(BOB, ALICE))
    newest = (await service.notifications(ALICE, PageRequest(limit=1))).items[0].id

    async def later() -> None:
        await asyncio.sleep(0.1)
        await feed(service, followed(CAROL, BOB))  # someone else's: no wake-up result
        await feed(service, followed(CAROL, ALICE))

    task = asyncio.create_task(later())
    started = time.monotonic()
    got = await service.wait_for_new(ALICE, newest, 10)
    elapsed = time.monotonic() - started
    await task
    assert [(n.kind, n.actor_id) for n in got] == [("follow", CAROL)]
    assert elapsed < 1.0


async def test_wait_for_new_times_out_empty(service: NotificationsService) -> None:
    started = time.monotonic()
    assert await service.wait_for_new(ALICE, None, 0.3) == []
    assert 0.25 <= time.monotonic() - started < 2


async def test_consumer_subscribes_every_event_it_handles(service: NotificationsService) -> None:
    subs = NotificationsConsumer(service).subscriptions()
    names: dict[str, Any] = {s.event_type.__name__: s.consumer for s in subs}
    assert names == {
        "TweetPosted": "notifications.mentions",
        "TweetLiked": "notifications.likes",
        "Retweeted": "notifications.retweets",
        "UserFollowed": "notifications.follows",
        "TweetDeleted": "notifications.cleanup",
    }


async def test_a_stream_gets_a_notification_that_commits_after_a_newer_one(
    service: NotificationsService,
) -> None:
    """Two notification writes at once (the module's consumers, or its replicas): the one that
    takes its id first commits last. A stream resumes after the newest id it has handed out, so
    that late commit must still be newer than anything the stream could have read before it.

    The second write gets up to 2 s to commit while the first is held open (it commits at once
    where nothing orders them); what is asserted is only what the stream ends up with.
    """
    first_event, second_event = followed(BOB, ALICE), followed(CAROL, ALICE)
    write_first = await service.notify_follows([first_event])
    write_second = await service.notify_follows([second_event])
    first_written, release_first = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with service.store.transaction() as tx:
            await write_first(tx, [first_event])
            first_written.set()
            await release_first.wait()

    async def second() -> None:
        async with service.store.transaction() as tx:
            await write_second(tx, [second_event])

    held = asyncio.create_task(first())
    await first_written.wait()
    racing = asyncio.create_task(second())
    await asyncio.wait({racing}, timeout=2)
    # The stream reads while the first write is still open, and resumes after what it got.
    handed_out = await service.wait_for_new(ALICE, "0", 0)
    cursor = handed_out[-1].id if handed_out else "0"
    release_first.set()
    await asyncio.gather(held, racing)
    handed_out += await service.wait_for_new(ALICE, cursor, 0)
    assert sorted(n.actor_id for n in handed_out) == [BOB, CAROL]


async def test_a_wait_held_by_another_replica_is_woken_through_redis(
    storage: Storage, users: FakeUsers, redis_prefix: tuple[Redis, str]
) -> None:
    """Two replicas of the module on one store: a notification written by one wakes the stream's
    wait held by the other at once, not at its next re-read (30 s here, past the 5 s allowed)."""
    redis, prefix = redis_prefix
    url, schema = (await storage.migrated(["notifications"]))["notifications"]
    stores = [ModuleStore("notifications", url, schema=schema) for _ in range(2)]
    writer, holder = (
        NotificationsService(
            store, IDS, cast(UserDirectoryPort, users), poll_interval_s=30, redis=redis, key_prefix=prefix
        )
        for store in stores
    )
    listening = asyncio.create_task(holder.listen())
    try:
        for _ in range(500):  # until the other replica listens (a wake-up before is lost)
            if (await redis.pubsub_numsub(f"{prefix}live:notifications"))[0][1] >= 1:
                break
            await asyncio.sleep(0.01)
        waiting = asyncio.create_task(holder.wait_for_new(ALICE, "0", 25))
        await asyncio.sleep(0.1)  # the wait is registered and has read nothing yet
        await feed(writer, followed(BOB, ALICE))
        got = await asyncio.wait_for(waiting, timeout=5)
        assert [(n.kind, n.actor_id) for n in got] == [("follow", BOB)]
    finally:
        listening.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listening
        for store in stores:
            await store.dispose()
