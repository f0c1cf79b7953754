"""Authors' statuses counts and last status times (Mastodon's statuses_count, last_status_at),
as port calls under every binding and storage."""

from __future__ import annotations

from typing import TYPE_CHECKING

from boundaries.tweets.dto import PostTweet
from boundaries.tweets.port import TweetsPort

if TYPE_CHECKING:
    from tests.contract.tweets.conftest import People


async def test_counts_follow_posts_retweets_and_deletions(tweets_port: TweetsPort, people: People) -> None:
    async def counts() -> list[int]:
        found = await tweets_port.author_activity([people.alice, people.bob, people.carol, "4242", "junk"])
        assert [a.author_id for a in found] == [people.alice, people.bob, people.carol, "4242"]
        return [a.statuses_count for a in found]

    assert await counts() == [0, 0, 0, 0]
    assert (await tweets_port.author_activity([people.alice]))[0].last_status_at is None
    first = await tweets_port.post(people.alice, PostTweet(text="one"), None)
    second = await tweets_port.post(people.alice, PostTweet(text="two", visibility="private"), None)
    await tweets_port.post(people.alice, PostTweet(text="@bob only you", visibility="direct"), None)
    await tweets_port.retweet(people.bob, first.id)
    await tweets_port.retweet(people.carol, first.id)
    await tweets_port.retweet(people.carol, first.id)  # idempotent: counted once
    assert await counts() == [2, 1, 1, 0]  # the direct one is not a profile status
    activity = (await tweets_port.author_activity([people.alice]))[0]
    assert activity.last_status_at is not None
    assert activity.last_status_at >= second.created_at
    await tweets_port.undo_retweet(people.bob, first.id)
    await tweets_port.delete(people.alice, second.id)
    assert await counts() == [1, 0, 1, 0]
    await tweets_port.delete(people.alice, first.id)  # carol's retweet of it goes too
    assert await counts() == [0, 0, 0, 0]
    assert (await tweets_port.author_activity([people.alice]))[0].last_status_at is not None
