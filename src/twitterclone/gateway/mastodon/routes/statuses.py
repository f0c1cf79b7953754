"""Statuses (/api/v1/statuses): post, read, delete, context, favourite, reblog.

A status is a tweet; a reblog is a retweet, answered as the wrapper status whose ``reblog`` is
the original. Posting goes through the tweets port with the client's Idempotency-Key, so a
retried post answers the status first created with it.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.params import HeaderParameter, QueryParameter

from boundaries._kernel.errors import InvalidInput
from boundaries._kernel.ids import is_id
from boundaries._kernel.pagination import MAX_PAGE_SIZE, PageRequest
from boundaries.tweets.dto import PostTweet, Tweet
from boundaries.tweets.errors import TweetNotFound
from boundaries.tweets.port import TweetsPort
from twitterclone.gateway.auth import Principal
from twitterclone.gateway.di import FromDishka, inject
from twitterclone.gateway.mastodon import entities as m
from twitterclone.gateway.mastodon.body import body_operation, read_body
from twitterclone.gateway.mastodon.deps import TAG, may_answer
from twitterclone.gateway.mastodon.params import IdList, StatusId
from twitterclone.gateway.mastodon.scopes import scope
from twitterclone.gateway.mastodon.shaping import Shaper
from twitterclone.gateway.params import BEARER
from twitterclone.gateway.ratelimit import RateRule, limited

#: How far up a reply chain the context reads, and how many descendants it shows.
MAX_ANCESTORS = 40
MAX_DESCENDANTS = 60
#: Statuses one GET /api/v1/statuses?id[]= may ask for.
MAX_MANY = 40

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        min_length=1,
        max_length=128,
        description="Retrying with the same key and body answers the status first posted with it.",
    ),
]


class StatusForm(msgspec.Struct, frozen=True, kw_only=True):
    """POST /api/v1/statuses (Mastodon's parameters; polls and scheduling are not offered)."""

    status: Annotated[str, msgspec.Meta(max_length=10_000)] = ""
    media_ids: Annotated[list[str], msgspec.Meta(max_length=4)] = msgspec.field(default_factory=list)
    in_reply_to_id: str | None = None
    visibility: m.Visibility | None = None
    spoiler_text: Annotated[str, msgspec.Meta(max_length=10_000)] = ""
    sensitive: bool = False
    language: Annotated[str, msgspec.Meta(max_length=16)] | None = None
    scheduled_at: str | None = None


def _post_command(form: StatusForm) -> PostTweet:
    """The tweet a status form asks for, refusing what this server cannot honour (422)."""
    if form.visibility not in (None, "public"):
        raise InvalidInput(f"{form.visibility} visibility is not supported yet", field="visibility")
    if form.spoiler_text:
        raise InvalidInput("content warnings are not supported yet", field="spoiler_text")
    if form.scheduled_at:
        raise InvalidInput("scheduled statuses are not supported", field="scheduled_at")
    if form.in_reply_to_id is not None and not is_id(form.in_reply_to_id):
        raise TweetNotFound("Record not found")
    for media_id in form.media_ids:
        if not is_id(media_id):
            raise InvalidInput(f"{media_id!r} is not a media id", field="media_ids")
    if not form.status.strip() and not form.media_ids:
        raise InvalidInput("Validation failed: Text can't be blank", field="status")
    return PostTweet(
        text=form.status, reply_to_id=form.in_reply_to_id or None, media_ids=list(form.media_ids)
    )


class StatusesController(Controller):
    """Statuses and what one does to them."""

    path = "/v1/statuses"
    tags = [TAG]

    @post(
        "/",
        operation_id="mastodonPostStatus",
        summary="Post a status (a reply with in_reply_to_id; images with media_ids)",
        status_code=200,
        security=BEARER,
        guards=[scope("write:statuses")],
        operation_class=body_operation(StatusForm),
        opt={**limited(RateRule.POST), **may_answer(403, 404, 422)},
    )
    @inject
    async def post_status(
        self,
        request: Request[Any, Any, Any],
        user: NamedDependency[Principal],
        tweets: FromDishka[TweetsPort],
        shaper: NamedDependency[Shaper],
        idempotency_key: IdempotencyKey = None,
    ) -> m.Status:
        form = await read_body(request, StatusForm)
        tweet = await tweets.post(user.user_id, _post_command(form), idempotency_key)
        return await shaper.one_status(tweet, user.user_id)

    @get(
        "/",
        operation_id="mastodonGetStatuses",
        summary="Many statuses by id (unknown ones left out)",
        guards=[scope("read:statuses")],
    )
    @inject
    async def get_statuses(
        self,
        viewer: NamedDependency[Principal | None],
        tweets: FromDishka[TweetsPort],
        shaper: NamedDependency[Shaper],
        ids: Annotated[IdList, QueryParameter(name="id[]", required=False)] = None,
    ) -> list[m.Status]:
        wanted = [i for i in dict.fromkeys(ids or []) if is_id(i)][:MAX_MANY]
        viewer_id = viewer.user_id if viewer else None
        statuses, _ = await shaper.statuses(await tweets.get_many(wanted, viewer_id), viewer_id)
        return statuses

    @get(
        "/{status_id:str}",
        operation_id="mastodonGetStatus",
        summary="A status",
        guards=[scope("read:statuses")],
        opt=may_answer(404),
    )
    @inject
    async def get_status(
        self,
        status_id: StatusId,
        viewer: NamedDependency[Principal | None],
        tweets: FromDishka[TweetsPort],
        shaper: NamedDependency[Shaper],
    ) -> m.Status:
        viewer_id = viewer.user_id if viewer else None
        return await shaper.one_status(await tweets.get(status_id, viewer_id), viewer_id)

    @delete(
        "/{status_id:str}",
        operation_id="mastodonDeleteStatus",
        summary="Delete one's status; answers it with its source text",
        status_code=200,
        security=BEARER,
        guards=[scope("write:statuses")],
        opt=may_answer(403, 404),
    )
    @inject
    async def delete_status(
        self,
        status_id: StatusId,
        user: NamedDependency[Principal],
        tweets: FromDishka[TweetsPort],
        shaper: NamedDependency[Shaper],
    ) -> m.DeletedStatus:
        tweet = await tweets.get(status_id, user.user_id)
        shaped = await shaper.one_status(tweet, user.user_id)
        await tweets.delete(user.user_id, status_id)
        return m.DeletedStatus(**msgspec.structs.asdict(shaped), text=tweet.text)

    @get(
        "/{status_id:str}/context",
        operation_id="mastodonStatusContext",
        summary="The statuses above (ancestors) and below (descendants) a status",
        guards=[scope("read:statuses")],
        opt=may_answer(404),
    )
    @inject
    async def context(
        self,
        status_id: StatusId,
        viewer: NamedDependency[Principal | None],
        tweets: FromDishka[TweetsPort],
        shaper: NamedDependency[Shaper],
    ) -> m.Context:
        viewer_id = viewer.user_id if viewer else None
        tweet = await tweets.get(status_id, viewer_id)
        ancestors: list[Tweet] = []
        parent_id = tweet.reply_to_id
        while parent_id is not None and len(ancestors) < MAX_ANCESTORS:
            try:
                parent = await tweets.get(parent_id, viewer_id)
            except TweetNotFound:
                break  # deleted, or not visible to the viewer: the chain stops there
            ancestors.append(parent)
            parent_id = parent.reply_to_id
        ancestors.reverse()
        descendants: list[Tweet] = []
        queue = [tweet.id]
        while queue and len(descendants) < MAX_DESCENDANTS:
            replies = await tweets.replies(queue.pop(0), viewer_id, PageRequest(limit=MAX_PAGE_SIZE))
            for reply in replies.items:
                descendants.append(reply)
                queue.append(reply.id)
        descendants = descendants[:MAX_DESCENDANTS]
        shaped, _ = await shaper.statuses([*ancestors, *descendants], viewer_id)
        return m.Context(ancestors=shaped[: len(ancestors)], descendants=shaped[len(ancestors) :])

    @post(
        "/{status_id:str}/favourite",
        operation_id="mastodonFavourite",
        summary="Favourite a status",
        status_code=200,
        security=BEARER,
        guards=[scope("write:favourites")],
        opt=may_answer(404, 422),
    )
    @inject
    async def favourite(
        self,
        status_id: StatusId,
        user: NamedDependency[Principal],
        tweets: FromDishka[TweetsPort],
        shaper: NamedDependency[Shaper],
    ) -> m.Status:
        return await shaper.one_status(await tweets.like(user.user_id, status_id), user.user_id)

    @post(
        "/{status_id:str}/unfavourite",
        operation_id="mastodonUnfavourite",
        summary="Take back a favourite",
        status_code=200,
        security=BEARER,
        guards=[scope("write:favourites")],
        opt=may_answer(404, 422),
    )
    @inject
    async def unfavourite(
        self,
        status_id: StatusId,
        user: NamedDependency[Principal],
        tweets: FromDishka[TweetsPort],
        shaper: NamedDependency[Shaper],
    ) -> m.Status:
        return await shaper.one_status(await tweets.unlike(user.user_id, status_id), user.user_id)

    @post(
        "/{status_id:str}/reblog",
        operation_id="mastodonReblog",
        summary="Reblog a status: answers the wrapper status whose reblog is the original",
        status_code=200,
        security=BEARER,
        guards=[scope("write:statuses")],
        opt={**limited(RateRule.POST), **may_answer(404, 422)},
    )
    @inject
    async def reblog(
        self,
        status_id: StatusId,
        user: NamedDependency[Principal],
        tweets: FromDishka[TweetsPort],
        shaper: NamedDependency[Shaper],
    ) -> m.Status:
        retweet = await tweets.retweet(user.user_id, status_id)
        if retweet.retweet_of is None:  # hydrate the original with the caller's view of it
            retweet = await tweets.get(retweet.id, user.user_id)
        return await shaper.one_status(retweet, user.user_id)

    @post(
        "/{status_id:str}/unreblog",
        operation_id="mastodonUnreblog",
        summary="Undo one's reblog; answers the original status",
        status_code=200,
        security=BEARER,
        guards=[scope("write:statuses")],
        opt=may_answer(404, 422),
    )
    @inject
    async def unreblog(
        self,
        status_id: StatusId,
        user: NamedDependency[Principal],
        tweets: FromDishka[TweetsPort],
        shaper: NamedDependency[Shaper],
    ) -> m.Status:
        original = await tweets.get(status_id, user.user_id)
        if original.retweet_of is not None:  # the client named the wrapper: undo the reblog it is
            original = original.retweet_of
        await tweets.undo_retweet(user.user_id, original.id)
        return await shaper.one_status(await tweets.get(original.id, user.user_id), user.user_id)
