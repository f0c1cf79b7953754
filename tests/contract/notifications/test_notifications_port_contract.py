"""What the NotificationsPort promises, as port calls, under every storage and binding.

Notifications are made by delivering events to the module's consumer (``deliver``), the only
way any binding gets them.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest

from boundaries._kernel.pagination import PageRequest
from boundaries.notifications.dto import MarkerUpdate, NotificationFilter
from boundaries.notifications.errors import NotificationNotFound
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


async def test_kinds_filter_id_bounds_get_dismiss_and_clear(
    notifications_port: NotificationsPort, deliver: Deliver, people: People
) -> None:
    ANN, BEN, CAT = people.ann, people.ben, people.cat
    for who in (BEN, CAT):
        await deliver(follow(who, ANN))
    items = (await notifications_port.notifications(ANN, PageRequest())).items
    ids = [n.id for n in items]
    assert len(ids) >= 2
    newest, oldest = ids[0], ids[-1]
    only = NotificationFilter(kinds=["follow"])
    assert [n.id for n in (await notifications_port.notifications(ANN, PageRequest(), only)).items] == ids
    none = NotificationFilter(exclude=["follow"])
    assert (await notifications_port.notifications(ANN, PageRequest(), none)).items == []
    assert [
        n.id for n in (await notifications_port.notifications(ANN, PageRequest(max_id=newest))).items
    ] == ids[1:]
    assert [
        n.id for n in (await notifications_port.notifications(ANN, PageRequest(since_id=oldest))).items
    ] == ids[:-1]
    above = await notifications_port.notifications(ANN, PageRequest(min_id=oldest, limit=1))
    assert [n.id for n in above.items] == [ids[-2]]  # the page just above min_id

    assert (await notifications_port.notification(ANN, newest)).id == newest
    with pytest.raises(NotificationNotFound):
        await notifications_port.notification(BEN, newest)  # someone else's
    await notifications_port.dismiss(BEN, newest)  # not his: nothing happens
    await notifications_port.dismiss(ANN, newest)
    await notifications_port.dismiss(ANN, newest)  # idempotent
    assert newest not in [n.id for n in (await notifications_port.notifications(ANN, PageRequest())).items]
    await notifications_port.clear(ANN)
    assert (await notifications_port.notifications(ANN, PageRequest())).items == []


async def test_markers_move_and_count_versions(
    notifications_port: NotificationsPort, deliver: Deliver, people: People
) -> None:
    ANN, BEN = people.ann, people.ben
    assert await notifications_port.markers(ANN) == []
    await deliver(follow(BEN, ANN))
    newest = (await notifications_port.notifications(ANN, PageRequest())).items[0].id
    first = await notifications_port.set_markers(ANN, [MarkerUpdate(timeline="home", last_read_id="123")])
    assert [(x.timeline, x.last_read_id, x.version) for x in first] == [("home", "123", 1)]
    both = await notifications_port.set_markers(
        ANN,
        [
            MarkerUpdate(timeline="home", last_read_id="124"),
            MarkerUpdate(timeline="notifications", last_read_id=newest),
        ],
    )
    assert [(x.timeline, x.last_read_id, x.version) for x in both] == [
        ("home", "124", 2),
        ("notifications", newest, 1),
    ]
    assert both[0].updated_at.tzinfo is not None
    assert (await notifications_port.unread_count(ANN)).unread == 0  # the notifications marker reads them
    assert [x.timeline for x in await notifications_port.markers(ANN)] == ["home", "notifications"]
    assert await notifications_port.markers(BEN) == []
