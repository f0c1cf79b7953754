"""What the NotificationsPort promises, as port calls, under any binding.

Today the fixture binds the local service; the HTTP binding will parametrise
``notifications_port``. Notifications are made by delivering events to the module's
consumer, the only way any binding gets them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import pytest

from boundaries._kernel.events import Event
from boundaries._kernel.pagination import PageRequest
from boundaries.notifications.port import NotificationsPort
from boundaries.users.dto import Relationship
from boundaries.users.events import UserFollowed
from boundaries.users.port import UsersPort
from modules.notifications.consumer import NotificationsConsumer
from modules.notifications.service import NotificationsService
from twitterclone.infra.events import LocalBus
from twitterclone.infra.ids import IdGenerator
from twitterclone.infra.store import ModuleStore, sqlite_url
from twitterclone.migrate import migrate

IDS = IdGenerator(21)
ANN, BEN = "4001", "4002"

Deliver = Callable[[Event], Awaitable[None]]


class NobodyBlocks:
    async def relationship(self, user_id: str, target_id: str) -> Relationship:
        return Relationship(user_id=user_id, target_id=target_id, following=False, followed_by=False)


@pytest.fixture
async def local(tmp_path: Path) -> AsyncIterator[tuple[NotificationsPort, Deliver]]:
    store = ModuleStore("notifications", sqlite_url(tmp_path, "notifications"))
    await migrate(store)
    service = NotificationsService(store, IDS, cast(UsersPort, NobodyBlocks()))
    bus = LocalBus()
    bus.subscribe(NotificationsConsumer(service).subscriptions())

    async def deliver(event: Event) -> None:
        assert await bus.publish(event, bus.consumers_of(type(event).__name__)) == []

    yield service, deliver
    await store.dispose()


@pytest.fixture
def notifications_port(local: tuple[NotificationsPort, Deliver]) -> NotificationsPort:
    return local[0]


@pytest.fixture
def deliver(local: tuple[NotificationsPort, Deliver]) -> Deliver:
    return local[1]


def follow(follower: str, followee: str) -> UserFollowed:
    return UserFollowed(
        event_id=IDS.next(), occurred_at=datetime.now(UTC), follower_id=follower, followee_id=followee
    )


async def test_a_new_user_has_nothing(notifications_port: NotificationsPort) -> None:
    page = await notifications_port.notifications(ANN, PageRequest())
    assert page.items == []
    assert page.next_cursor is None
    assert (await notifications_port.unread_count(ANN)).unread == 0
    assert (await notifications_port.mark_read(ANN, None)).unread == 0


async def test_notifications_are_per_user_newest_first_and_marked_read(
    notifications_port: NotificationsPort, deliver: Deliver
) -> None:
    await deliver(follow(BEN, ANN))
    await deliver(follow(ANN, BEN))
    await deliver(follow("4003", ANN))
    items = (await notifications_port.notifications(ANN, PageRequest())).items
    assert [n.actor_id for n in items] == ["4003", BEN]
    assert all(n.kind == "follow" and n.tweet_id is None and not n.read for n in items)
    assert items[0].created_at.tzinfo is not None
    assert (await notifications_port.mark_read(ANN, items[1].id)).unread == 1
    assert (await notifications_port.mark_read(ANN, items[1].id)).unread == 1
    assert (await notifications_port.mark_read(ANN, None)).unread == 0
    assert (await notifications_port.unread_count(BEN)).unread == 1


async def test_wait_for_new_returns_what_arrives_and_times_out_empty(
    notifications_port: NotificationsPort, deliver: Deliver
) -> None:
    started = time.monotonic()
    assert await notifications_port.wait_for_new(ANN, "0", 0.2) == []
    assert time.monotonic() - started < 2

    async def soon() -> None:
        await asyncio.sleep(0.1)
        await deliver(follow(BEN, ANN))

    task = asyncio.create_task(soon())
    got = await notifications_port.wait_for_new(ANN, "0", 5)
    await task
    assert [(n.kind, n.actor_id) for n in got] == [("follow", BEN)]
    assert await notifications_port.wait_for_new(ANN, got[-1].id, 0) == []
