"""What other modules and the gateway may ask of the tweets module."""

from typing import Protocol

from boundaries._kernel.ids import Id
from boundaries._kernel.markers import not_idempotent, waits
from boundaries._kernel.pagination import Page, PageRequest
from boundaries.tweets.dto import (
    AuthorActivity,
    Context,
    PostTweet,
    PublicChanges,
    Tweet,
    TweetRef,
    UserTweetsFilter,
)


class TweetsPort(Protocol):
    """Tweets, replies, quotes, retweets, likes, and search over them."""

    @not_idempotent
    async def post(self, author_id: Id, command: PostTweet, idempotency_key: str | None) -> Tweet:
        """Post a tweet; the same idempotency key and body return the same tweet."""
        ...

    async def delete(self, user_id: Id, tweet_id: Id) -> None:
        """Delete one's own tweet; raises NotTweetAuthor or TweetNotFound."""
        ...

    async def get(self, tweet_id: Id, viewer_id: Id | None) -> Tweet:
        """One tweet the viewer may see; raises TweetNotFound (also for one they may not see)."""
        ...

    async def get_many(self, tweet_ids: list[Id], viewer_id: Id | None) -> list[Tweet]:
        """Many tweets in one call, in the order asked; missing or hidden ones left out."""
        ...

    async def get_feed(self, tweet_ids: list[Id], viewer_id: Id | None) -> list[Tweet]:
        """Hydration for a timeline: as get_many, and also leaves out what the viewer muted."""
        ...

    async def public_timeline(self, viewer_id: Id | None, page: PageRequest) -> Page[Tweet]:
        """Public tweets of everyone (no retweets), newest first, as the viewer may see them."""
        ...

    async def tag_timeline(self, tag: str, viewer_id: Id | None, page: PageRequest) -> Page[Tweet]:
        """Public tweets carrying a #hashtag (without the #, any case), newest first."""
        ...

    async def like(self, user_id: Id, tweet_id: Id) -> Tweet:
        """Like a tweet; idempotent."""
        ...

    async def unlike(self, user_id: Id, tweet_id: Id) -> Tweet:
        """Take back a like; idempotent."""
        ...

    async def retweet(self, user_id: Id, tweet_id: Id) -> Tweet:
        """Retweet a tweet; idempotent; TweetNotShareable for a private or direct one."""
        ...

    async def undo_retweet(self, user_id: Id, tweet_id: Id) -> None:
        """Undo one's retweet of a tweet; idempotent."""
        ...

    async def user_tweets(
        self, author_id: Id, viewer_id: Id | None, page: PageRequest, filters: UserTweetsFilter | None = None
    ) -> Page[Tweet]:
        """A user's tweets and retweets the viewer may see, newest first (pins: newest pin first)."""
        ...

    async def replies(self, tweet_id: Id, viewer_id: Id | None, page: PageRequest) -> Page[Tweet]:
        """Direct replies to a tweet, oldest first."""
        ...

    async def search(self, query: str, viewer_id: Id | None, page: PageRequest) -> Page[Tweet]:
        """Full-text search over public tweets' text (words, #hashtags), newest first."""
        ...

    async def author_activity(self, author_ids: list[Id]) -> list[AuthorActivity]:
        """Many authors' statuses counts and last status times in one call, in the order asked."""
        ...

    async def recent_refs(self, author_ids: list[Id], limit_per_author: int) -> list[TweetRef]:
        """The newest tweet refs of some authors, newest first (timeline back-fill and merge)."""
        ...

    async def remove(self, tweet_id: Id) -> None:
        """Remove any tweet whoever wrote it (moderation), emitting TweetDeleted; raises TweetNotFound."""
        ...

    async def bookmark(self, user_id: Id, tweet_id: Id) -> Tweet:
        """Bookmark a tweet (a retweet stands for its original); idempotent. Raises TweetNotFound."""
        ...

    async def unbookmark(self, user_id: Id, tweet_id: Id) -> Tweet:
        """Remove a bookmark; idempotent. Raises TweetNotFound."""
        ...

    async def bookmarks(self, user_id: Id, page: PageRequest) -> Page[Tweet]:
        """The tweets a user bookmarked, newest bookmark first (only the user may ask)."""
        ...

    async def pin(self, user_id: Id, tweet_id: Id) -> Tweet:
        """Pin one's own tweet to one's profile; idempotent. Raises NotPinnable, TooManyPins."""
        ...

    async def unpin(self, user_id: Id, tweet_id: Id) -> Tweet:
        """Unpin a tweet; idempotent. Raises TweetNotFound."""
        ...

    async def favourites(self, user_id: Id, page: PageRequest) -> Page[Tweet]:
        """The tweets a user liked, newest like first."""
        ...

    async def liked_by(self, tweet_id: Id, page: PageRequest, viewer_id: Id | None = None) -> Page[Id]:
        """Who liked a tweet the viewer may see (user ids), newest like first. Raises TweetNotFound."""
        ...

    async def retweeted_by(self, tweet_id: Id, page: PageRequest, viewer_id: Id | None = None) -> Page[Id]:
        """Who retweeted a tweet the viewer may see (user ids), newest retweet first. Raises TweetNotFound."""
        ...

    async def context(self, tweet_id: Id, viewer_id: Id | None) -> Context:
        """The reply chain above a tweet and the replies under it (both bounded). Raises TweetNotFound."""
        ...

    @waits
    async def public_changes(self, after: str | None, hashtag: str | None, timeout_s: float) -> PublicChanges:
        """Public tweets posted or deleted since ``after`` (None: from now), waiting up to ``timeout_s``."""
        ...
