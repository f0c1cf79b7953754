"""The timeline module's popular-followees projection, on SQLite and PostgreSQL.

Who is popular and which popular authors a viewer follows come from follow events; users is asked
only for a viewer or an author the projection has not seen, once. No interleaving of a completion
from users with a follow event may bring back an edge the viewer removed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import cast

import msgspec
import pytest

from boundaries.users.events import UserFollowed, UserUnfollowed
from boundaries.users.port import UsersPort
from modules.timeline.popular import PopularFollowees
from tests.support.databases import Storage
from tests.unit.timeline.timeline_fakes import FakeUsers
from twitterclone.infra.ids import IdGenerator
from twitterclone.infra.store import ModuleStore

IDS = IdGenerator(worker_id=21)
#: Events happen now: a count users gives is stamped with the time it was asked.
T0 = datetime.now(UTC)
THRESHOLD = 3
VIEWER, STAR, SMALL = 1, 100, 200


@pytest.fixture
async def store(storage: Storage) -> AsyncIterator[ModuleStore]:
    (url, schema) = (await storage.migrated(["timeline"]))["timeline"]
    s = ModuleStore("timeline", url, schema=schema)
    yield s
    await s.dispose()


@pytest.fixture
def users() -> FakeUsers:
    return FakeUsers()


def popular(store: ModuleStore, users: FakeUsers, threshold: int = THRESHOLD) -> PopularFollowees:
    return PopularFollowees(store, cast(UsersPort, users), threshold)


_clock = [T0]


def _now() -> datetime:
    """Now, and always later than the last event (events happen when the test applies them)."""
    _clock[0] = max(datetime.now(UTC), _clock[0] + timedelta(microseconds=1))
    return _clock[0]


def followed(follower: int, followee: int, n: int | None) -> UserFollowed:
    return UserFollowed(
        event_id=IDS.next(),
        occurred_at=_now(),
        follower_id=str(follower),
        followee_id=str(followee),
        followee_followers=n,
    )


def unfollowed(follower: int, followee: int, n: int | None) -> UserUnfollowed:
    return UserUnfollowed(
        event_id=IDS.next(),
        occurred_at=_now(),
        follower_id=str(follower),
        followee_id=str(followee),
        followee_followers=n,
    )


async def apply(p: PopularFollowees, *events: UserFollowed | UserUnfollowed) -> None:
    async with p.store.transaction() as tx:
        await p.apply(tx, events)


async def test_a_viewer_is_completed_from_users_once_then_kept_by_events(
    store: ModuleStore, users: FakeUsers
) -> None:
    for f in (2, 3, VIEWER):
        users.follow(str(f), str(STAR))
    users.follow(str(VIEWER), str(SMALL))
    p = popular(store, users)

    assert await p.followees(VIEWER) == [STAR]
    assert await p.followees(VIEWER) == [STAR]
    assert users.calls["popular_following_ids"] == 1

    await apply(p, unfollowed(VIEWER, STAR, 2))  # STAR drops below the threshold
    assert await p.followees(VIEWER) == []
    await apply(p, followed(VIEWER, STAR, 3))  # and is popular again, with VIEWER among them
    assert await p.followees(VIEWER) == [STAR]
    assert users.calls["popular_following_ids"] == 1


async def test_crossing_the_threshold_backfills_every_follower_and_falling_below_removes_them(
    store: ModuleStore, users: FakeUsers
) -> None:
    p = popular(store, users)
    for viewer in (VIEWER, 2):  # both complete (they follow no one popular yet)
        assert await p.followees(viewer) == []
    users.follow(str(VIEWER), str(STAR))
    users.follow("2", str(STAR))
    users.follow("3", str(STAR))
    await apply(p, followed(VIEWER, STAR, 1), followed(2, STAR, 2))
    assert await p.followees(VIEWER) == []  # not popular yet: fanned out

    await apply(p, followed(3, STAR, 3))  # the third follower makes STAR popular
    assert await p.followees(3) == [STAR]
    assert await p.followees(VIEWER) == []  # the others' edges come with the back-fill
    assert await p.backfill_once() == 1
    assert await p.followees(VIEWER) == [STAR]
    assert await p.followees(2) == [STAR]
    assert await p.backfill_once() == 0

    await apply(p, unfollowed(3, STAR, 2))
    assert [await p.followees(v) for v in (VIEWER, 2, 3)] == [[], [], []]
    assert users.calls["popular_following_ids"] == 3  # VIEWER, 2 and 3 once each, at their first read


async def test_a_follow_event_during_a_completion_wins_over_what_users_said_before(
    store: ModuleStore, users: FakeUsers
) -> None:
    for f in (2, 3, VIEWER):
        users.follow(str(f), str(STAR))
    p = popular(store, users)

    class Racing(FakeUsers):
        """Users answers, then VIEWER's unfollow is applied before the answer is written."""

        async def popular_following_ids(self, user_id: str, min_followers: int) -> list[str]:
            answer = await users.popular_following_ids(user_id, min_followers)
            users.unfollow(str(VIEWER), str(STAR))
            await apply(p, unfollowed(VIEWER, STAR, 2))
            return answer

    p.users = cast(UsersPort, Racing())
    assert await p.followees(VIEWER) == [STAR]  # what users said at the time of asking
    p.users = cast(UsersPort, users)
    assert await p.followees(VIEWER) == []  # not written: the next read asked afresh


async def test_a_threshold_change_completes_every_viewer_again(store: ModuleStore, users: FakeUsers) -> None:
    users.follow(str(VIEWER), str(STAR))
    users.follow("2", str(STAR))
    assert await popular(store, users, threshold=2).followees(VIEWER) == [STAR]
    assert await popular(store, users, threshold=5).followees(VIEWER) == []
    assert users.calls["popular_following_ids"] == 2


async def test_an_event_without_a_count_leaves_the_viewer_to_be_completed_again(
    store: ModuleStore, users: FakeUsers
) -> None:
    p = popular(store, users)
    assert await p.followees(VIEWER) == []
    for f in (2, 3, VIEWER):
        users.follow(str(f), str(STAR))
    await apply(p, followed(VIEWER, STAR, None))  # from an older users version
    assert await p.followees(VIEWER) == [STAR]
    assert users.calls["popular_following_ids"] == 2
    await apply(p, unfollowed(VIEWER, STAR, None))  # the edge ends even without a count
    assert await p.followees(VIEWER) == []


async def test_popular_authors_come_from_counts_and_strangers_are_asked_once(
    store: ModuleStore, users: FakeUsers
) -> None:
    for f in (2, 3, 4):
        users.follow(str(f), str(STAR))
    users.add(str(SMALL))
    p = popular(store, users)

    assert await p.popular([STAR, SMALL]) == {STAR}
    assert await p.popular([STAR, SMALL]) == {STAR}
    assert users.calls["profiles"] == 1

    await apply(p, unfollowed(4, STAR, 2))
    assert await p.popular([STAR]) == set()
    assert users.calls["profiles"] == 1


async def test_a_late_older_count_does_not_overwrite_a_newer_one(
    store: ModuleStore, users: FakeUsers
) -> None:
    p = popular(store, users)
    newer, older = followed(2, STAR, 3), unfollowed(VIEWER, STAR, 2)
    newer = msgspec.structs.replace(newer, occurred_at=_now() + timedelta(days=1))
    await apply(p, newer)
    await apply(p, older)  # older (by its time), applied later: the count stays 3
    assert await p.popular([STAR]) == {STAR}
    assert users.calls["profiles"] == 0
