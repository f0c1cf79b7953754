"""Small in-memory stand-ins for the users and tweets ports, as the timeline module calls them."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from boundaries._kernel.pagination import Page, PageRequest
from boundaries.tweets.dto import Tweet, TweetRef
from boundaries.users.dto import Author, IdPage, Profile
from boundaries.users.errors import UserNotFound
from modules.timeline.home import HomeTimelineStore, SqlHomeTimelines
from twitterclone.infra.ids import IdGenerator, id_time

NOW = datetime(2025, 1, 1, tzinfo=UTC)


class FakeUsers:
    """The follow graph: followee -> followers, in follow order."""

    def __init__(self) -> None:
        self.followers: dict[str, list[str]] = {}
        self.known: set[str] = set()
        self.calls: Counter[str] = Counter()
        self.follower_pages: list[tuple[str, str | None, int]] = []

    def add(self, *user_ids: str) -> None:
        self.known.update(user_ids)

    def follow(self, follower: str, followee: str) -> None:
        self.known.update((follower, followee))
        fs = self.followers.setdefault(followee, [])
        if follower not in fs:
            fs.append(follower)

    def unfollow(self, follower: str, followee: str) -> None:
        if follower in self.followers.get(followee, []):
            self.followers[followee].remove(follower)

    async def profile(self, user_id: str) -> Profile:
        self.calls["profile"] += 1
        if user_id not in self.known:
            raise UserNotFound(f"no user {user_id}")
        return self._profile(user_id)

    def _profile(self, user_id: str) -> Profile:
        followers = len(self.followers.get(user_id, []))
        following = len([f for f, fs in self.followers.items() if user_id in fs])
        return Profile(
            id=user_id,
            handle=f"u{user_id}",
            display_name="",
            bio="",
            created_at=NOW,
            followers_count=followers,
            following_count=following,
        )

    async def profiles(self, user_ids: list[str]) -> list[Profile]:
        self.calls["profiles"] += 1
        return [self._profile(u) for u in user_ids if u in self.known]

    async def follower_ids(self, user_id: str, cursor: str | None, limit: int) -> IdPage:
        self.calls["follower_ids"] += 1
        self.follower_pages.append((user_id, cursor, limit))
        everyone = self.followers.get(user_id, [])
        start = int(cursor) if cursor else 0
        ids = everyone[start : start + limit]
        more = start + limit < len(everyone)
        return IdPage(ids=ids, next_cursor=str(start + limit) if more else None)

    async def following_ids(self, user_id: str) -> list[str]:
        self.calls["following_ids"] += 1
        return [followee for followee, fs in self.followers.items() if user_id in fs]

    async def popular_following_ids(self, user_id: str, min_followers: int) -> list[str]:
        self.calls["popular_following_ids"] += 1
        return [
            followee for followee, fs in self.followers.items() if user_id in fs and len(fs) >= min_followers
        ]


class FakeTweets:
    """Tweets by id: author and (for retweets) the original."""

    def __init__(self, ids: IdGenerator) -> None:
        self.ids = ids
        self.tweets: dict[str, tuple[str, str | None]] = {}
        self.get_many_calls: list[list[str]] = []
        self.user_tweets_calls: list[tuple[object, ...]] = []
        self.recent_refs_calls: list[tuple[list[str], int]] = []

    def post(self, author_id: str) -> str:
        tweet_id = self.ids.next()
        self.tweets[tweet_id] = (author_id, None)
        return tweet_id

    def retweet(self, user_id: str, tweet_id: str) -> str:
        retweet_id = self.ids.next()
        self.tweets[retweet_id] = (user_id, tweet_id)
        return retweet_id

    def remove(self, tweet_id: str) -> None:
        self.tweets.pop(tweet_id, None)

    def _tweet(self, tweet_id: str) -> Tweet:
        author, original = self.tweets[tweet_id]
        return Tweet(
            id=tweet_id,
            author=Author(id=author, handle=f"u{author}", display_name=""),
            text="" if original else f"tweet {tweet_id}",
            created_at=id_time(tweet_id),
            conversation_id=tweet_id,
            retweet_of_id=original,
        )

    async def get_many(self, tweet_ids: list[str], viewer_id: str | None) -> list[Tweet]:
        self.get_many_calls.append(list(tweet_ids))
        return [self._tweet(t) for t in tweet_ids if t in self.tweets]

    async def get_feed(self, tweet_ids: list[str], viewer_id: str | None) -> list[Tweet]:
        return await self.get_many(tweet_ids, viewer_id)

    async def recent_refs(self, author_ids: list[str], limit_per_author: int) -> list[TweetRef]:
        self.recent_refs_calls.append((list(author_ids), limit_per_author))
        refs: list[TweetRef] = []
        for author in author_ids:
            mine = sorted((t for t, (a, _) in self.tweets.items() if a == author), key=int, reverse=True)
            refs.extend(
                TweetRef(tweet_id=t, author_id=author, created_at=id_time(t)) for t in mine[:limit_per_author]
            )
        return sorted(refs, key=lambda r: int(r.tweet_id), reverse=True)

    async def user_tweets(
        self, author_id: str, viewer_id: str | None, page: PageRequest, filters: object = None
    ) -> Page[Tweet]:
        # Filters are the tweets module's (tested in its contract); a call records them when given.
        self.user_tweets_calls.append(
            (author_id, viewer_id, page) if filters is None else (author_id, viewer_id, page, filters)
        )
        mine = sorted((t for t, (a, _) in self.tweets.items() if a == author_id), key=int, reverse=True)
        return Page(items=[self._tweet(t) for t in mine[: page.limit]], next_cursor=None)


async def settle(home: HomeTimelineStore) -> None:
    """Finish a home store's deferred work (the SQL store trims off the fan-out's path; Redis
    trims on every write), so a test can check exact sizes."""
    if isinstance(home, SqlHomeTimelines):
        await home.trim_pending(everyone=True)
