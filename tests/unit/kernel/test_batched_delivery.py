"""Relay batches change nothing a user can read: the scenario of test_replay_twice, delivered as one
batch (the bus's lanes and the consumers' batch handlers), leaves what one-by-one delivery leaves,
and delivering the batch again changes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from boundaries.users.port import UsersPort
from modules.analytics.consumer import AnalyticsConsumer
from modules.analytics.service import AnalyticsService
from modules.notifications.consumer import NotificationsConsumer
from modules.notifications.service import NotificationsService
from tests.unit.test_replay_twice import IDS, NOW, USERS, Modules, QuietUsers, scenario, snapshot
from twitterclone.infra.events import LocalBus
from twitterclone.infra.store import ModuleStore, sqlite_url
from twitterclone.migrate import migrate


async def build(data: Path) -> tuple[Modules, list[ModuleStore]]:
    n_store = ModuleStore("notifications", sqlite_url(data, "notifications"))
    a_store = ModuleStore("analytics", sqlite_url(data, "analytics"))
    for store in (n_store, a_store):
        await migrate(store)
    notifications = NotificationsService(n_store, IDS, cast(UsersPort, QuietUsers()))
    analytics = AnalyticsService(a_store, clock=lambda: NOW.timestamp())
    bus = LocalBus()
    bus.subscribe(NotificationsConsumer(notifications).subscriptions())
    bus.subscribe(AnalyticsConsumer(analytics).subscriptions())
    return Modules(notifications, analytics, bus), [n_store, a_store]


def comparable(snap: dict[str, Any]) -> dict[str, Any]:
    """Notification ids are taken when applied: compare what each says, in (time, kind, actor) order."""
    out = dict(snap)
    for user in USERS:
        for key in (f"notifications:{user}", f"waiting:{user}"):
            value = out[key]
            items = value["items"] if isinstance(value, dict) else value
            stripped = sorted(
                ({k: v for k, v in n.items() if k != "id"} for n in items),
                key=lambda n: (n["created_at"], n["kind"], n["actor_id"]),
            )
            out[key] = stripped
    return out


async def test_one_relay_batch_leaves_what_one_by_one_delivery_leaves(tmp_path: Path) -> None:
    events = scenario()
    one, one_stores = await build(tmp_path / "one")
    batched, batched_stores = await build(tmp_path / "batched")
    try:
        for event in events:
            await one.deliver(event)
        expected = comparable(await snapshot(one, events))

        items = [(e, batched.bus.consumers_of(type(e).__name__)) for e in events]
        assert await batched.bus.publish_many(items) == [[] for _ in events]
        assert comparable(await snapshot(batched, events)) == expected
        assert expected["unread:3001"] == 7  # not trivially empty (see test_replay_twice)

        assert await batched.bus.publish_many(items) == [[] for _ in events]  # the batch again
        assert comparable(await snapshot(batched, events)) == expected
    finally:
        for store in (*one_stores, *batched_stores):
            await store.dispose()
