"""Id bounds on the tweets port's id-ordered lists (Mastodon's max_id/since_id/min_id), as port
calls under every binding and storage."""

from __future__ import annotations

from typing import TYPE_CHECKING

from boundaries._kernel.pagination import PageRequest
from boundaries.tweets.dto import PostTweet
from boundaries.tweets.port import TweetsPort

if TYPE_CHECKING:
    from tests.contract.tweets.conftest import People


async def test_user_tweets_and_public_timeline_honour_id_bounds(
    tweets_port: TweetsPort, people: People
) -> None:
    ANN = people.alice
    posted = [(await tweets_port.post(ANN, PostTweet(text=f"post {i} #paging"), None)).id for i in range(6)]
    newest_first = posted[::-1]

    async def user(page: PageRequest) -> list[str]:
        return [t.id for t in (await tweets_port.user_tweets(ANN, ANN, page)).items]

    async def public(page: PageRequest) -> list[str]:
        return [t.id for t in (await tweets_port.public_timeline(None, page)).items]

    async def tagged(page: PageRequest) -> list[str]:
        return [t.id for t in (await tweets_port.tag_timeline("paging", None, page)).items]

    for read in (user, public, tagged):
        assert await read(PageRequest(limit=10)) == newest_first
        assert await read(PageRequest(max_id=posted[3], limit=2)) == [posted[2], posted[1]]
        assert await read(PageRequest(since_id=posted[3], limit=2)) == [posted[5], posted[4]]
        assert await read(PageRequest(min_id=posted[3], limit=2)) == [posted[5], posted[4]]
        assert await read(PageRequest(min_id=posted[1], limit=2)) == [posted[3], posted[2]]
        assert await read(PageRequest(since_id=posted[1], max_id=posted[4], limit=10)) == [
            posted[3],
            posted[2],
        ]
    page = await tweets_port.user_tweets(ANN, ANN, PageRequest(min_id=posted[1], limit=2))
    assert page.next_cursor is not None  # older ones follow: the next page continues below
    page = await tweets_port.tag_timeline("paging", None, PageRequest(min_id=posted[1], limit=2))
    assert page.next_cursor is not None
