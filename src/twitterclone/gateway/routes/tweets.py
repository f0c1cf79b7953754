"""Tweets (/api/tweets): post, read, delete, like, retweet, replies and search."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import Body, HeaderParameter, QueryParameter

from boundaries._kernel.errors import InvalidInput
from boundaries._kernel.pagination import DEFAULT_PAGE_SIZE, Page, PageRequest
from boundaries.media.errors import MediaNotFound, NotMediaOwner
from boundaries.tweets.dto import PostTweet, Tweet
from boundaries.tweets.errors import (
    EmptyTweet,
    IdempotencyKeyReused,
    InvalidMedia,
    NotTweetAuthor,
    TweetNotFound,
    TweetNotShareable,
    TweetTooLong,
)
from boundaries.tweets.port import TweetsPort
from twitterclone.gateway.auth import READ, WRITE, Principal
from twitterclone.gateway.di import FromDishka, inject
from twitterclone.gateway.params import BEARER, Cursor, Limit, TweetId
from twitterclone.gateway.problems import errors
from twitterclone.gateway.ratelimit import RateRule, limited

#: What acting on a tweet may answer: no such tweet, or a caller that is no user (a service client).
ACT_ON_TWEET = errors(TweetNotFound, InvalidInput)

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        min_length=1,
        max_length=128,
        description="Retrying with the same key and body returns the tweet first posted with it.",
    ),
]


class TweetsController(Controller):
    """Tweets, replies, quotes, retweets, likes and search."""

    path = "/tweets"
    tags = ["tweets"]

    @post(
        "/",
        operation_id="postTweet",
        summary="Post a tweet, reply or quote",
        status_code=201,
        security=BEARER,
        guards=[WRITE],
        responses=errors(
            EmptyTweet,
            TweetTooLong,
            InvalidMedia,
            InvalidInput,
            IdempotencyKeyReused,
            TweetNotFound,  # the tweet replied to or quoted (or one the author may not see)
            TweetNotShareable,  # quoting a followers-only or direct tweet
            MediaNotFound,
            NotMediaOwner,
        ),
        opt=limited(RateRule.POST),
    )
    @inject
    async def post_tweet(
        self,
        data: Annotated[PostTweet, Body()],
        user: NamedDependency[Principal],
        tweets: FromDishka[TweetsPort],
        idempotency_key: IdempotencyKey = None,
    ) -> Tweet:
        return await tweets.post(user.user_id, data, idempotency_key)

    @get(
        "/search",
        operation_id="searchTweets",
        summary="Tweets matching words or #hashtags, newest first",
        guards=[READ],
    )
    @inject
    async def search(
        self,
        viewer: NamedDependency[Principal | None],
        tweets: FromDishka[TweetsPort],
        q: Annotated[
            str, QueryParameter(name="q", min_length=1, max_length=200, description="Words, #tags.")
        ],
        cursor: Cursor = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
    ) -> Page[Tweet]:
        return await tweets.search(
            q, viewer.user_id if viewer else None, PageRequest(cursor=cursor, limit=limit)
        )

    @get(
        "/{tweet_id:str}",
        operation_id="getTweet",
        summary="One tweet",
        guards=[READ],
        responses=errors(TweetNotFound),
    )
    @inject
    async def get_tweet(
        self, tweet_id: TweetId, viewer: NamedDependency[Principal | None], tweets: FromDishka[TweetsPort]
    ) -> Tweet:
        return await tweets.get(tweet_id, viewer.user_id if viewer else None)

    @delete(
        "/{tweet_id:str}",
        operation_id="deleteTweet",
        summary="Delete one's own tweet",
        security=BEARER,
        guards=[WRITE],
        responses=errors(TweetNotFound, NotTweetAuthor, InvalidInput),
    )
    @inject
    async def delete_tweet(
        self, tweet_id: TweetId, user: NamedDependency[Principal], tweets: FromDishka[TweetsPort]
    ) -> None:
        await tweets.delete(user.user_id, tweet_id)

    @put(
        "/{tweet_id:str}/like",
        operation_id="likeTweet",
        summary="Like a tweet",
        security=BEARER,
        guards=[WRITE],
        responses=ACT_ON_TWEET,
    )
    @inject
    async def like(
        self, tweet_id: TweetId, user: NamedDependency[Principal], tweets: FromDishka[TweetsPort]
    ) -> Tweet:
        return await tweets.like(user.user_id, tweet_id)

    @delete(
        "/{tweet_id:str}/like",
        operation_id="unlikeTweet",
        summary="Take back a like",
        security=BEARER,
        status_code=200,
        guards=[WRITE],
        responses=ACT_ON_TWEET,
    )
    @inject
    async def unlike(
        self, tweet_id: TweetId, user: NamedDependency[Principal], tweets: FromDishka[TweetsPort]
    ) -> Tweet:
        return await tweets.unlike(user.user_id, tweet_id)

    @put(
        "/{tweet_id:str}/retweet",
        operation_id="retweet",
        summary="Retweet a tweet (returns the retweet)",
        security=BEARER,
        guards=[WRITE],
        responses=errors(TweetNotFound, InvalidInput, TweetNotShareable),
        opt=limited(RateRule.POST),
    )
    @inject
    async def retweet(
        self, tweet_id: TweetId, user: NamedDependency[Principal], tweets: FromDishka[TweetsPort]
    ) -> Tweet:
        return await tweets.retweet(user.user_id, tweet_id)

    @delete(
        "/{tweet_id:str}/retweet",
        operation_id="undoRetweet",
        summary="Undo one's retweet",
        security=BEARER,
        guards=[WRITE],
        responses=errors(InvalidInput),  # idempotent: an unknown tweet is no error
    )
    @inject
    async def undo_retweet(
        self, tweet_id: TweetId, user: NamedDependency[Principal], tweets: FromDishka[TweetsPort]
    ) -> None:
        await tweets.undo_retweet(user.user_id, tweet_id)

    @get(
        "/{tweet_id:str}/replies",
        operation_id="listReplies",
        summary="Direct replies, oldest first",
        guards=[READ],
        responses=errors(TweetNotFound),
    )
    @inject
    async def replies(
        self,
        tweet_id: TweetId,
        viewer: NamedDependency[Principal | None],
        tweets: FromDishka[TweetsPort],
        cursor: Cursor = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
    ) -> Page[Tweet]:
        return await tweets.replies(
            tweet_id, viewer.user_id if viewer else None, PageRequest(cursor=cursor, limit=limit)
        )
