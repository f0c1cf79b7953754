"""What the tweets module's components (bookmarks, pins, engagement, conversation) ask of the service."""

from __future__ import annotations

from typing import Any, Protocol

from boundaries._kernel.ids import Id
from boundaries.tweets.dto import Tweet


class TweetReader(Protocol):
    """Hydration and lookups the service offers its components (no cycle back to it)."""

    async def get_many(self, tweet_ids: list[Id], viewer_id: Id | None) -> list[Tweet]:
        """Tweets in the order asked, missing ones left out."""
        ...

    async def tweet_or_gone(self, tweet_id: int, viewer_id: str) -> Tweet:
        """One tweet as ``viewer_id`` sees it; raises TweetNotFound when it was deleted."""
        ...

    async def load_target(self, conn: Any, tweet_id: int) -> Any:
        """The row a tweet action applies to (a retweet stands for its original); TweetNotFound."""
        ...
