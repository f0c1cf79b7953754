"""What other modules may ask of the users module: the directory and the social graph they read.

The gateway uses the whole ``UsersPort``; tweets, timeline and notifications depend on this
narrow face, so their dependency on users says what they really use. Every method shared with
``UsersPort`` has the same name and signature there, so one port server (``/_port/users/<method>``)
answers both; an architecture test keeps the two in step.
"""

from typing import Protocol

from boundaries._kernel.ids import Id
from boundaries.users.dto import Author, IdPage, Profile, Silencing, Standing


class UserDirectoryPort(Protocol):
    """Resolving and describing users, and reading who follows, blocks and mutes whom."""

    async def ids_by_handles(self, handles: list[str]) -> dict[str, Id]:
        """Resolve handles (ignoring case) to ids; the keys are the handles as given."""
        ...

    async def authors(self, user_ids: list[Id]) -> list[Author]:
        """Author summaries for many ids in one call, in the order asked; unknown left out."""
        ...

    async def profiles(self, user_ids: list[Id]) -> list[Profile]:
        """Profiles for many ids in one call, in the order asked; unknown ids are left out."""
        ...

    async def silencing(self, actor_id: Id, user_ids: list[Id]) -> list[Silencing]:
        """Whether each of many users (up to 5000) blocks or mutes one actor; unknown users left out."""
        ...

    async def standings(self, viewer_id: Id, user_ids: list[Id], follow_ids: list[Id]) -> list[Standing]:
        """How a viewer stands to users: blocks either way and mutes, and follows of ``follow_ids``."""
        ...

    async def follower_ids(self, user_id: Id, cursor: str | None, limit: int) -> IdPage:
        """Follower ids in bulk (up to 5000 a call), for fan-out."""
        ...

    async def following_ids(self, user_id: Id) -> list[Id]:
        """Every id a user follows (bounded by the follow cap), for timeline assembly."""
        ...

    async def popular_following_ids(self, user_id: Id, min_followers: int) -> list[Id]:
        """Ids a user follows that have at least ``min_followers`` followers (hybrid timelines)."""
        ...
