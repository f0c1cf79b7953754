"""The feeds behind a Mastodon stream, against ports that behave like the modules' long-polls."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from boundaries._kernel.pagination import Page, PageRequest
from boundaries.notifications.dto import Notification
from boundaries.notifications.port import NotificationsPort
from boundaries.timeline.dto import HomeChanges
from boundaries.timeline.port import TimelinePort
from boundaries.tweets.dto import PublicChanges
from boundaries.tweets.port import TweetsPort
from twitterclone.gateway.mastodon.shaping import Shaper
from twitterclone.gateway.mastodon.streaming import Channel, Feeds, Subscriptions


class Source:
    """A sequence of tweet ids with the modules' "from now" rule: asked without a position, it
    answers at once with a position past everything already there."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    def since(self, after: str | None) -> tuple[list[str], str]:
        start = len(self.ids) if after is None else int(after)
        return self.ids[start:], str(len(self.ids))


class Ports:
    """The timeline and tweets long-polls over two sources, and what hydration needs."""

    def __init__(self) -> None:
        self.home = Source()
        self.public = Source()

    async def home_changes(self, user_id: str, after: str | None, timeout_s: float) -> HomeChanges:
        added, position = self.home.since(after)
        if after is not None and not added:
            await asyncio.sleep(timeout_s)
        return HomeChanges(added=added if after is not None else [], position=position)

    async def public_changes(self, after: str | None, hashtag: str | None, timeout_s: float) -> PublicChanges:
        posted, position = self.public.since(after)
        if after is not None and not posted:
            await asyncio.sleep(timeout_s)
        return PublicChanges(posted=posted if after is not None else [], position=position)

    async def get_feed(self, ids: list[str], viewer_id: str) -> list[str]:
        return ids

    async def notifications(self, user_id: str, page: PageRequest) -> Page[Notification]:
        return Page(items=[], next_cursor=None)

    async def wait_for_new(self, user_id: str, after_id: str | None, timeout_s: float) -> list[Notification]:
        await asyncio.sleep(timeout_s)
        return []


class Shapes:
    async def statuses(self, tweets: list[str], viewer_id: str) -> tuple[list[dict[str, str]], Any]:
        return [{"id": t} for t in tweets], None


def _feeds(ports: Ports) -> Feeds:
    return Feeds(
        user_id="1001",
        shaper=cast(Shaper, Shapes()),
        tweets=cast(TweetsPort, ports),
        timeline=cast(TimelinePort, ports),
        notifications=cast(NotificationsPort, ports),
        wait_s=0.05,
        recheck_s=5.0,
    )


@pytest.mark.parametrize("stream", ["user", "public", "hashtag"])
async def test_a_post_made_right_after_the_stream_opens_is_delivered(stream: str) -> None:
    """Once ``subscribe`` returns, the client is told the stream is open and may post at once:
    each feed must already know where it starts, or its first look would count the post as
    already there. (The post lands before any feed task has run: no await in between.)"""
    ports = Ports()
    ports.home.ids.append("1")  # before the stream: never delivered
    ports.public.ids.append("1")
    subscriptions = Subscriptions(_feeds(ports))
    channel = Channel.of(stream, "cats" if stream == "hashtag" else None)
    await subscriptions.subscribe(channel)
    try:
        ports.home.ids.append("2")
        ports.public.ids.append("2")
        got_channel, event, payload = await asyncio.wait_for(subscriptions.queue.get(), timeout=5)
        assert (got_channel, event, payload) == (channel, "update", '{"id":"2"}')
    finally:
        await subscriptions.close()
