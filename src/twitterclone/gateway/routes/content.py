"""Bookmarks, pins, likers and retweeters, conversation context (/api/tweets/{id}/...), and one's
bookmarks and likes (/api/users/me/...): the content features the Mastodon faces show, natively."""

from __future__ import annotations

from litestar import Controller, delete, get, put
from litestar.di import NamedDependency

from boundaries._kernel.errors import InvalidInput
from boundaries._kernel.pagination import DEFAULT_PAGE_SIZE, Page, PageRequest
from boundaries.tweets.dto import Context, Tweet
from boundaries.tweets.errors import NotPinnable, TooManyPins, TweetNotFound
from boundaries.tweets.port import TweetsPort
from boundaries.users.dto import Profile
from boundaries.users.port import UsersPort
from twitterclone.gateway.auth import READ, WRITE, Principal
from twitterclone.gateway.di import FromDishka, inject
from twitterclone.gateway.params import BEARER, Cursor, Limit, TweetId
from twitterclone.gateway.problems import errors

#: What acting on a tweet may answer: no such tweet, or a caller that is no user (a service client).
ACT_ON_TWEET = errors(TweetNotFound, InvalidInput)


async def _profiles(users: UsersPort, ids: Page[str]) -> Page[Profile]:
    """A page of user ids as profiles (accounts gone since are left out), same cursor."""
    return Page(items=await users.profiles(ids.items) if ids.items else [], next_cursor=ids.next_cursor)


class TweetContentController(Controller):
    """Bookmarks, pins, who liked or retweeted a tweet, and its conversation."""

    path = "/tweets"
    tags = ["tweets"]

    @put(
        "/{tweet_id:str}/bookmark",
        operation_id="bookmarkTweet",
        summary="Bookmark a tweet (private to the caller; idempotent)",
        security=BEARER,
        guards=[WRITE],
        responses=ACT_ON_TWEET,
    )
    @inject
    async def bookmark(
        self, tweet_id: TweetId, user: NamedDependency[Principal], tweets: FromDishka[TweetsPort]
    ) -> Tweet:
        return await tweets.bookmark(user.user_id, tweet_id)

    @delete(
        "/{tweet_id:str}/bookmark",
        operation_id="unbookmarkTweet",
        summary="Remove a bookmark (idempotent)",
        security=BEARER,
        status_code=200,
        guards=[WRITE],
        responses=ACT_ON_TWEET,
    )
    @inject
    async def unbookmark(
        self, tweet_id: TweetId, user: NamedDependency[Principal], tweets: FromDishka[TweetsPort]
    ) -> Tweet:
        return await tweets.unbookmark(user.user_id, tweet_id)

    @put(
        "/{tweet_id:str}/pin",
        operation_id="pinTweet",
        summary="Pin one's own tweet to one's profile (at most 5; idempotent)",
        security=BEARER,
        guards=[WRITE],
        responses=errors(TweetNotFound, NotPinnable, TooManyPins, InvalidInput),
    )
    @inject
    async def pin(
        self, tweet_id: TweetId, user: NamedDependency[Principal], tweets: FromDishka[TweetsPort]
    ) -> Tweet:
        return await tweets.pin(user.user_id, tweet_id)

    @delete(
        "/{tweet_id:str}/pin",
        operation_id="unpinTweet",
        summary="Unpin a tweet (idempotent)",
        security=BEARER,
        status_code=200,
        guards=[WRITE],
        responses=ACT_ON_TWEET,
    )
    @inject
    async def unpin(
        self, tweet_id: TweetId, user: NamedDependency[Principal], tweets: FromDishka[TweetsPort]
    ) -> Tweet:
        return await tweets.unpin(user.user_id, tweet_id)

    @get(
        "/{tweet_id:str}/liked-by",
        operation_id="listLikers",
        summary="Who liked a tweet, newest like first",
        guards=[READ],
        responses=errors(TweetNotFound),
    )
    @inject
    async def liked_by(
        self,
        tweet_id: TweetId,
        viewer: NamedDependency[Principal | None],
        tweets: FromDishka[TweetsPort],
        users: FromDishka[UsersPort],
        cursor: Cursor = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
    ) -> Page[Profile]:
        return await _profiles(
            users,
            await tweets.liked_by(
                tweet_id, PageRequest(cursor=cursor, limit=limit), viewer.user_id if viewer else None
            ),
        )

    @get(
        "/{tweet_id:str}/retweeted-by",
        operation_id="listRetweeters",
        summary="Who retweeted a tweet, newest retweet first",
        guards=[READ],
        responses=errors(TweetNotFound),
    )
    @inject
    async def retweeted_by(
        self,
        tweet_id: TweetId,
        viewer: NamedDependency[Principal | None],
        tweets: FromDishka[TweetsPort],
        users: FromDishka[UsersPort],
        cursor: Cursor = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
    ) -> Page[Profile]:
        page = PageRequest(cursor=cursor, limit=limit)
        return await _profiles(
            users, await tweets.retweeted_by(tweet_id, page, viewer.user_id if viewer else None)
        )

    @get(
        "/{tweet_id:str}/context",
        operation_id="getTweetContext",
        summary="The reply chain above a tweet (oldest first) and the replies under it (thread order)",
        guards=[READ],
        responses=errors(TweetNotFound),
    )
    @inject
    async def context(
        self, tweet_id: TweetId, viewer: NamedDependency[Principal | None], tweets: FromDishka[TweetsPort]
    ) -> Context:
        return await tweets.context(tweet_id, viewer.user_id if viewer else None)


class MyCollectionsController(Controller):
    """The caller's bookmarks and likes."""

    path = "/users/me"
    tags = ["users"]

    @get(
        "/bookmarks",
        operation_id="listBookmarks",
        summary="One's bookmarked tweets, newest bookmark first",
        security=BEARER,
        guards=[READ],
        responses=errors(InvalidInput),
    )
    @inject
    async def bookmarks(
        self,
        user: NamedDependency[Principal],
        tweets: FromDishka[TweetsPort],
        cursor: Cursor = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
    ) -> Page[Tweet]:
        return await tweets.bookmarks(user.user_id, PageRequest(cursor=cursor, limit=limit))

    @get(
        "/likes",
        operation_id="listMyLikes",
        summary="The tweets one liked, newest like first",
        security=BEARER,
        guards=[READ],
        responses=errors(InvalidInput),
    )
    @inject
    async def likes(
        self,
        user: NamedDependency[Principal],
        tweets: FromDishka[TweetsPort],
        cursor: Cursor = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
    ) -> Page[Tweet]:
        return await tweets.favourites(user.user_id, PageRequest(cursor=cursor, limit=limit))
