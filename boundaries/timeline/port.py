"""What the gateway may ask of the timeline module."""

from typing import Protocol

from boundaries._kernel.ids import Id
from boundaries._kernel.markers import waits
from boundaries._kernel.pagination import Page, PageRequest
from boundaries.timeline.dto import HomeChanges, RebuildResult
from boundaries.tweets.dto import Tweet, UserTweetsFilter


class TimelinePort(Protocol):
    """Home timelines (fan-out on write, hybrid for popular authors) and user timelines."""

    async def home_timeline(self, user_id: Id, page: PageRequest) -> Page[Tweet]:
        """The newest tweets of the accounts a user follows (and their own), hydrated."""
        ...

    async def user_timeline(
        self, author_id: Id, viewer_id: Id | None, page: PageRequest, filters: UserTweetsFilter | None = None
    ) -> Page[Tweet]:
        """One user's tweets and retweets, newest first, hydrated; ``filters`` narrow them."""
        ...

    async def rebuild(self, user_id: Id) -> RebuildResult:
        """Rebuild a home timeline from the source of truth (follows and tweets)."""
        ...

    @waits
    async def home_changes(self, user_id: Id, after: str | None, timeout_s: float) -> HomeChanges:
        """Tweets a home timeline gained or lost since ``after`` (None: from now), waiting ``timeout_s``."""
        ...
