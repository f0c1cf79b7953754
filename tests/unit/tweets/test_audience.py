"""What the audience checks cost: users is asked once per page at most, and only what decides."""

from __future__ import annotations

from typing import TYPE_CHECKING

from boundaries._kernel.pagination import PageRequest
from boundaries.tweets.dto import PostTweet
from boundaries.users.dto import Standing

if TYPE_CHECKING:
    from modules.tweets.service import TweetsService
    from tests.unit.tweets.conftest import FakeUsers

ALICE, BOB, CAROL = "1001", "1002", "1003"


async def test_anonymous_and_own_pages_ask_users_nothing(service: TweetsService, users: FakeUsers) -> None:
    mine = [(await service.post(ALICE, PostTweet(text=f"t{i}"), None)).id for i in range(3)]
    users.standings_calls.clear()
    assert [t.id for t in await service.get_many(mine, None)] == mine
    assert [t.id for t in await service.get_feed(mine, ALICE)] == mine
    assert [t.id for t in (await service.user_tweets(ALICE, ALICE, PageRequest())).items] == mine[::-1]
    assert users.standings_calls == []


async def test_a_page_asks_once_and_follows_only_for_followers_only_tweets(
    service: TweetsService, users: FakeUsers
) -> None:
    open_ = (await service.post(ALICE, PostTweet(text="open"), None)).id
    closed = (await service.post(BOB, PostTweet(text="closed", visibility="private"), None)).id
    to_carol = (await service.post(BOB, PostTweet(text="hi @carol", visibility="private"), None)).id
    users.standings_calls.clear()
    asked: list[tuple[str, list[str], list[str]]] = []
    original = users.standings

    async def spy(viewer_id: str, user_ids: list[str], follow_ids: list[str]) -> list[Standing]:
        asked.append((viewer_id, list(user_ids), list(follow_ids)))
        return await original(viewer_id, user_ids, follow_ids)

    users.standings = spy  # type: ignore[method-assign]
    assert [t.id for t in await service.get_feed([to_carol, closed, open_], CAROL)] == [to_carol, open_]
    # One call: silences for both authors, a follow only for the tweet not addressed to Carol.
    assert asked == [(CAROL, [BOB, ALICE], [BOB])]
    users.standing[CAROL, BOB] = Standing(user_id=BOB, following=True)
    asked.clear()
    assert [t.id for t in (await service.user_tweets(BOB, CAROL, PageRequest())).items] == [to_carol, closed]
    assert asked == [(CAROL, [BOB], [BOB])]  # the profile page asked once, hydration reused it
