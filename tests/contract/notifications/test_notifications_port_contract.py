"""What the NotificationsPort promises, as port calls, under every storage and binding.

Notifications are made by delivering events to the module's consumer (``deliver``), the only
way any binding gets them.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from boundaries._kernel.pagination import PageRequest
from boundaries.notifications.port import NotificationsPort
from boundaries.users.events import UserFollowed
from tests.contract.notifications.conftest import People
from tests.support.wiring import Deliver
from twitterclone.infra.ids import IdGenerator

IDS = IdGenerator(21)


def follow(follower: str, followee: str) -> UserFollowed:
    return UserFollowed(
        event_id=IDS.next(), occurred_at=datetime.now(UTC), follower_id=follower, followee_id=followee
    )


async def test_a_new_user_has_nothing(notifications_port: NotificationsPort, people: People) -> None:
    ANN = people.ann
    page = await notifications_port.notifications(ANN, PageRequest())
    assert page.items == []
    assert page.next_cursor is None
    assert (await notifications_port.unread_count(ANN)).unread == 0
    assert (await notifications_port.mark_read(ANN, None)).unread == 0


async def test_notifications_are_per_user_newest_first_and_marked_read(
    notifications_port: NotificationsPort, deliver: Deliver, people: People
) -> None:
    ANN, BEN, CAT = people.ann, people.ben, people.cat
    await deliver(follow(BEN, ANN))
    await deliver(follow(ANN, BEN))
    await deliver(follow(CAT, ANN))
    items = (await notifications_port.notifications(ANN, PageRequest())).items
    assert [n.actor_id for n in items] == [CAT, BEN]
    assert all(n.kind == "follow" and n.tweet_id is None and not n.read for n in items)
    assert items[0].created_at.tzinfo is not None
    assert (await notifications_port.mark_read(ANN, items[1].id)).unread == 1
    assert (await notifications_port.mark_read(ANN, items[1].id)).unread == 1
    assert (await notifications_port.mark_read(ANN, None)).unread == 0
    assert (await notifications_port.unread_count(BEN)).unread == 1


async def test_wait_for_new_returns_what_arrives_and_times_out_empty(
    notifications_port: NotificationsPort, deliver: Deliver, people: People
) -> None:
    ANN, BEN = people.ann, people.ben
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
