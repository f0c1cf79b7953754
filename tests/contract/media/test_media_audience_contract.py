"""Which images only a tweet's audience may see (``audience_of``), as port calls under every
binding and storage: the media module learns a tweet's visibility from TweetPosted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from boundaries.media.port import MediaPort
from boundaries.tweets.events import TweetPosted
from modules import media
from tests.contract.conftest import Bind
from tests.contract.media.test_media_port_contract import ALICE, BOB, upload
from tests.support.databases import Storage
from tests.support.wiring import Deliver, deliverer, wired
from twitterclone.infra.ids import IdGenerator

IDS = IdGenerator(23)


@pytest.fixture
async def wired_media(storage: Storage, bind: Bind) -> AsyncIterator[tuple[MediaPort, Deliver]]:
    async with wired(storage, (media.MODULE,)) as container:
        port: MediaPort = bind("media", MediaPort, await container.get(MediaPort))
        yield port, await deliverer(container, media.MODULE)


def posted(media_id: str, visibility: str) -> TweetPosted:
    now, tweet_id = datetime.now(UTC), IDS.next()
    return TweetPosted(
        event_id=IDS.next(),
        occurred_at=now,
        tweet_id=tweet_id,
        author_id=ALICE,
        created_at=now,
        text="x",
        conversation_id=tweet_id,
        media_ids=[media_id],
        visibility=visibility,
    )


async def test_images_of_restricted_tweets_name_the_tweet(wired_media: tuple[MediaPort, Deliver]) -> None:
    port, deliver = wired_media
    for visibility, restricted in (
        ("public", False),
        ("unlisted", False),
        ("private", True),
        ("direct", True),
    ):
        image = await upload(port)
        assert image.audience_of is None  # a draft: its owner's, no tweet to ask
        event = posted(image.id, visibility)
        await deliver(event)
        [seen] = await port.get_many([image.id], BOB)
        content = await port.content(image.id, "thumb", BOB)
        expected = event.tweet_id if restricted else None
        assert (seen.attached_to, seen.audience_of, content.audience_of) == (
            event.tweet_id,
            expected,
            expected,
        )
