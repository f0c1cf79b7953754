"""The users and tweets ports next to the timeline port, and a way to wait for events."""

from __future__ import annotations

from dataclasses import dataclass

from boundaries.tweets.dto import PostTweet
from boundaries.tweets.port import TweetsPort
from boundaries.users.dto import Register
from boundaries.users.port import UsersPort
from twitterclone.composition import Runtime


@dataclass
class World:
    runtime: Runtime
    users: UsersPort
    tweets: TweetsPort

    async def register(self, handle: str) -> str:
        account = await self.users.register(
            Register(handle=handle, email=f"{handle}@example.org", password="correct horse battery")
        )
        return account.profile.id

    async def post(self, author_id: str, text: str) -> str:
        return (await self.tweets.post(author_id, PostTweet(text=text), None)).id

    async def settle(self) -> None:
        await self.runtime.drain_events()
