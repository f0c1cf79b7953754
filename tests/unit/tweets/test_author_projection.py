"""The tweets module's author projection: fed by users' events, users asked only for strangers.

On SQLite and PostgreSQL (the ``store`` fixture). Hydration must keep working with users down for
every author the projection knows, and no late or replayed event may bring an old name back.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import cast

import pytest

from boundaries._kernel.errors import Unavailable
from boundaries.tweets.dto import PostTweet
from boundaries.users.dto import Author
from boundaries.users.events import ProfileUpdated, UserRegistered
from boundaries.users.port import UsersPort
from modules.tweets.authors import CACHE_S, AuthorProjection
from modules.tweets.consumer import TweetsConsumer
from modules.tweets.service import TweetsService
from tests.support.consumers import apply
from tests.unit.tweets.conftest import FakeUsers
from twitterclone.infra.ids import IdGenerator
from twitterclone.infra.store import ModuleStore

IDS = IdGenerator(worker_id=11)
ALICE, BOB = "1001", "1002"
T0 = datetime(2026, 3, 1, tzinfo=UTC)


class DownUsers(FakeUsers):
    """A users port whose service is down."""

    async def authors(self, user_ids: list[str]) -> list[Author]:
        self.authors_calls.append(list(user_ids))
        raise Unavailable("users is down")

    async def ids_by_handles(self, handles: list[str]) -> dict[str, str]:
        self.handle_calls.append(list(handles))
        raise Unavailable("users is down")


def registered(user_id: str, handle: str, at: datetime = T0) -> UserRegistered:
    return UserRegistered(
        event_id=IDS.next(), occurred_at=at, user_id=user_id, handle=handle, display_name=handle
    )


def renamed(user_id: str, handle: str, name: str, at: datetime) -> ProfileUpdated:
    return ProfileUpdated(
        event_id=IDS.next(), occurred_at=at, user_id=user_id, handle=handle, display_name=name, bio=""
    )


def new_service(store: ModuleStore, users: FakeUsers) -> TweetsService:
    return TweetsService(store, IdGenerator(worker_id=12), cast(UsersPort, users))


async def test_authors_known_from_events_hydrate_with_users_down(
    store: ModuleStore, users: FakeUsers
) -> None:
    tweet = await new_service(store, users).post(ALICE, PostTweet(text="hello"), None)
    down = DownUsers()
    service = new_service(store, down)
    await apply(TweetsConsumer(service).subscriptions(), registered(ALICE, "alice"))

    (got,) = await service.get_many([tweet.id], None)

    assert got.author == Author(id=ALICE, handle="alice", display_name="alice")
    assert down.authors_calls == []


async def test_an_author_nobody_knows_shows_bare_while_users_is_down(
    store: ModuleStore, users: FakeUsers
) -> None:
    tweet = await new_service(store, users).post(BOB, PostTweet(text="hello"), None)
    down = DownUsers()

    (got,) = await new_service(store, down).get_many([tweet.id], None)

    assert got.id == tweet.id  # the tweet still shows
    assert got.author == Author(id=BOB, handle="", display_name="")
    assert down.authors_calls == [[BOB]]


async def test_what_reads_learn_from_users_is_written_off_the_read_path(
    store: ModuleStore, users: FakeUsers
) -> None:
    tweet = await new_service(store, users).post(BOB, PostTweet(text="hello"), None)
    service = new_service(store, users)
    users.authors_calls.clear()
    await service.get_many([tweet.id], None)
    assert users.authors_calls == [[BOB]]
    assert await service.authors.fill() == 1

    down = DownUsers()
    (got,) = await new_service(store, down).get_many([tweet.id], None)  # another process
    assert got.author.handle == "bob"
    assert down.authors_calls == []


@pytest.mark.parametrize("order", ["in order", "reversed", "replayed"])
async def test_the_newest_version_of_an_account_wins_whatever_the_order(
    store: ModuleStore, users: FakeUsers, order: str
) -> None:
    events = [
        registered(ALICE, "alice", T0),
        renamed(ALICE, "alice", "Alice A.", T0 + timedelta(seconds=1)),
        renamed(ALICE, "alice_b", "Alice B.", T0 + timedelta(seconds=2)),
    ]
    if order == "reversed":
        events.reverse()
    elif order == "replayed":
        events = events + events[:2]
    service = new_service(store, DownUsers())
    subscriptions = TweetsConsumer(service).subscriptions()
    for event in events:
        await apply(subscriptions, event)

    got = await service.authors.summaries([int(ALICE)])

    assert got[int(ALICE)] == Author(id=ALICE, handle="alice_b", display_name="Alice B.")


async def test_an_old_read_from_users_does_not_undo_a_newer_event(
    store: ModuleStore, users: FakeUsers
) -> None:
    service = new_service(store, users)
    await service.authors.summaries([int(ALICE)])  # learnt "alice" from users just now
    await apply(
        TweetsConsumer(service).subscriptions(),
        renamed(ALICE, "alice", "Renamed later", datetime.now(UTC) + timedelta(seconds=5)),
    )
    await service.authors.fill()

    got = await new_service(store, DownUsers()).authors.summaries([int(ALICE)])
    assert got[int(ALICE)].display_name == "Renamed later"


async def test_posting_with_mentions_works_while_users_is_down(store: ModuleStore) -> None:
    down = DownUsers()
    service = new_service(store, down)
    await apply(TweetsConsumer(service).subscriptions(), registered(BOB, "Bob"))

    tweet = await service.post(ALICE, PostTweet(text="hi @bob and @nobody"), None)

    mentions = {m.handle: m.user_id for m in tweet.entities.mentions}
    assert mentions == {"bob": BOB, "nobody": None}  # resolved from the projection, as users would
    assert down.handle_calls == [["bob", "nobody"]]


async def test_a_renamed_author_shows_at_once_where_the_event_is_applied(
    store: ModuleStore, users: FakeUsers
) -> None:
    service = new_service(store, DownUsers())
    subscriptions = TweetsConsumer(service).subscriptions()
    await apply(subscriptions, registered(ALICE, "alice"))
    assert (await service.authors.summaries([int(ALICE)]))[int(ALICE)].display_name == "alice"

    await apply(subscriptions, renamed(ALICE, "alice", "Alice A.", T0 + timedelta(seconds=1)))

    # The summary this process kept is dropped when the event commits, not left to expire.
    got = await service.authors.summaries([int(ALICE)])
    assert got[int(ALICE)] == Author(id=ALICE, handle="alice", display_name="Alice A.")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_another_process_sees_a_new_name_within_the_cache_time(
    store: ModuleStore, users: FakeUsers
) -> None:
    consuming = new_service(store, DownUsers())  # the process whose consumer gets the events
    subscriptions = TweetsConsumer(consuming).subscriptions()
    await apply(subscriptions, registered(ALICE, "alice"), name="authors")
    clock = Clock()
    other = AuthorProjection(store, cast(UsersPort, DownUsers()), clock=clock)  # another process
    assert (await other.summaries([int(ALICE)]))[int(ALICE)].display_name == "alice"
    assert (await other.summaries([int(ALICE)]))[int(ALICE)].display_name == "alice"
    assert other.reads == 1  # the second read was served from memory

    await apply(subscriptions, renamed(ALICE, "alice", "Alice A.", T0 + timedelta(seconds=1)))
    clock.now += CACHE_S - 0.1
    assert (await other.summaries([int(ALICE)]))[int(ALICE)].display_name == "alice"  # the documented bound
    clock.now += 0.2
    assert (await other.summaries([int(ALICE)]))[int(ALICE)].display_name == "Alice A."
    assert other.reads == 2
