"""Statuses (/api/v1/statuses): post, read, delete, context, favourite, reblog.

A status is a tweet; a reblog is a retweet, answered as the wrapper status whose ``reblog`` is
the original. Posting goes through the tweets port with the client's Idempotency-Key, so a
retried post answers the status first created with it.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import HeaderParameter, QueryParameter

from boundaries._kernel.errors import InvalidInput
from boundaries._kernel.ids import is_id
from boundaries._kernel.pagination import Page
from boundaries.tweets.dto import PostTweet, Tweet
from boundaries.tweets.errors import TweetNotFound
from boundaries.tweets.port import TweetsPort
from twitterclone.gateway.auth import Principal
from twitterclone.gateway.di import FromDishka, inject
from twitterclone.gateway.mastodon import entities as m
from twitterclone.gateway.mastodon.body import body_operation, read_body
from twitterclone.gateway.mastodon.deps import TAG, may_answer, shaper_for
from twitterclone.gateway.mastodon.paging import Limit, MaxId, cursor_links, cursor_page
from twitterclone.gateway.mastodon.params import IdList, StatusId
from twitterclone.gateway.mastodon.scopes import scope
from twitterclone.gateway.mastodon.shaping import Shaper
from twitterclone.gateway.params import BEARER
from twitterclone.gateway.ratelimit import RateRule, limited

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


def _language(code: str | None) -> str | None:
    """ISO 639-1 from what clients send (``en``, ``en-US``, ``EN``); "" means none."""
    if not code:
        return None
    return code.replace("_", "-").split("-")[0].lower()


def _post_command(form: StatusForm) -> PostTweet:
    """The tweet a status form asks for; what the tweets port rejects answers 422 there."""
    if form.scheduled_at:
        raise InvalidInput("scheduled statuses are not supported", field="scheduled_at")
    if form.in_reply_to_id is not None and form.in_reply_to_id != "" and not is_id(form.in_reply_to_id):
        raise TweetNotFound("Record not found")
    for media_id in form.media_ids:
        if not is_id(media_id):
            raise InvalidInput(f"{media_id!r} is not a media id", field="media_ids")
    if not form.status.strip() and not form.media_ids:
        raise InvalidInput("Validation failed: Text can't be blank", field="status")
    language = _language(form.language)
    if language is not None and (len(language) != 2 or not language.isalpha()):
        raise InvalidInput(f"{form.language!r} is not an ISO 639-1 language", field="language")
    return PostTweet(
        text=form.status,
        reply_to_id=form.in_reply_to_id or None,
        media_ids=list(form.media_ids),
        visibility=form.visibility or "public",
        spoiler_text=form.spoiler_text,
        sensitive=form.sensitive,
        language=language,
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
        idempotency_key: IdempotencyKey = None,
    ) -> m.Status:
        shaper = await shaper_for(request)
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
        request: Request[Any, Any, Any],
        viewer: NamedDependency[Principal | None],
        tweets: FromDishka[TweetsPort],
        ids: Annotated[IdList, QueryParameter(name="id[]", required=False)] = None,
    ) -> list[m.Status]:
        shaper = await shaper_for(request)
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
        request: Request[Any, Any, Any],
        status_id: StatusId,
        viewer: NamedDependency[Principal | None],
        tweets: FromDishka[TweetsPort],
    ) -> m.Status:
        shaper = await shaper_for(request)
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
        request: Request[Any, Any, Any],
        status_id: StatusId,
        user: NamedDependency[Principal],
        tweets: FromDishka[TweetsPort],
    ) -> m.DeletedStatus:
        shaper = await shaper_for(request)
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
        request: Request[Any, Any, Any],
        status_id: StatusId,
        viewer: NamedDependency[Principal | None],
        tweets: FromDishka[TweetsPort],
    ) -> m.Context:
        shaper = await shaper_for(request)
        viewer_id = viewer.user_id if viewer else None
        found = await tweets.context(status_id, viewer_id)
        shaped, _ = await shaper.statuses([*found.ancestors, *found.descendants], viewer_id)
        split = len(found.ancestors)
        return m.Context(ancestors=shaped[:split], descendants=shaped[split:])

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
        request: Request[Any, Any, Any],
        status_id: StatusId,
        user: NamedDependency[Principal],
        tweets: FromDishka[TweetsPort],
    ) -> m.Status:
        shaper = await shaper_for(request)
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
        request: Request[Any, Any, Any],
        status_id: StatusId,
        user: NamedDependency[Principal],
        tweets: FromDishka[TweetsPort],
    ) -> m.Status:
        shaper = await shaper_for(request)
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
        request: Request[Any, Any, Any],
        status_id: StatusId,
        user: NamedDependency[Principal],
        tweets: FromDishka[TweetsPort],
    ) -> m.Status:
        shaper = await shaper_for(request)
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
        request: Request[Any, Any, Any],
        status_id: StatusId,
        user: NamedDependency[Principal],
        tweets: FromDishka[TweetsPort],
    ) -> m.Status:
        shaper = await shaper_for(request)
        original = await tweets.get(status_id, user.user_id)
        if original.retweet_of is not None:  # the client named the wrapper: undo the reblog it is
            original = original.retweet_of
        await tweets.undo_retweet(user.user_id, original.id)
        return await shaper.one_status(await tweets.get(original.id, user.user_id), user.user_id)

    async def _toggle(
        self, action: str, status_id: str, user: Principal, tweets: TweetsPort, shaper: Shaper
    ) -> m.Status:
        tweet: Tweet = await getattr(tweets, action)(user.user_id, status_id)
        return await shaper.one_status(tweet, user.user_id)

    @post(
        "/{status_id:str}/bookmark",
        operation_id="mastodonBookmark",
        summary="Bookmark a status",
        status_code=200,
        security=BEARER,
        guards=[scope("write:bookmarks")],
        opt=may_answer(404, 422),
    )
    @inject
    async def bookmark(
        self,
        request: Request[Any, Any, Any],
        status_id: StatusId,
        user: NamedDependency[Principal],
        tweets: FromDishka[TweetsPort],
    ) -> m.Status:
        shaper = await shaper_for(request)
        return await self._toggle("bookmark", status_id, user, tweets, shaper)

    @post(
        "/{status_id:str}/unbookmark",
        operation_id="mastodonUnbookmark",
        summary="Remove a bookmark",
        status_code=200,
        security=BEARER,
        guards=[scope("write:bookmarks")],
        opt=may_answer(404, 422),
    )
    @inject
    async def unbookmark(
        self,
        request: Request[Any, Any, Any],
        status_id: StatusId,
        user: NamedDependency[Principal],
        tweets: FromDishka[TweetsPort],
    ) -> m.Status:
        shaper = await shaper_for(request)
        return await self._toggle("unbookmark", status_id, user, tweets, shaper)

    @post(
        "/{status_id:str}/pin",
        operation_id="mastodonPin",
        summary="Pin one's own status to one's profile (at most 5)",
        status_code=200,
        security=BEARER,
        guards=[scope("write:accounts")],
        opt=may_answer(404, 422),
    )
    @inject
    async def pin(
        self,
        request: Request[Any, Any, Any],
        status_id: StatusId,
        user: NamedDependency[Principal],
        tweets: FromDishka[TweetsPort],
    ) -> m.Status:
        shaper = await shaper_for(request)
        return await self._toggle("pin", status_id, user, tweets, shaper)

    @post(
        "/{status_id:str}/unpin",
        operation_id="mastodonUnpin",
        summary="Unpin a status",
        status_code=200,
        security=BEARER,
        guards=[scope("write:accounts")],
        opt=may_answer(404, 422),
    )
    @inject
    async def unpin(
        self,
        request: Request[Any, Any, Any],
        status_id: StatusId,
        user: NamedDependency[Principal],
        tweets: FromDishka[TweetsPort],
    ) -> m.Status:
        shaper = await shaper_for(request)
        return await self._toggle("unpin", status_id, user, tweets, shaper)

    async def _accounts_page(
        self,
        request: Request[Any, Any, Any],
        action: str,
        status_id: str,
        viewer_id: str | None,
        tweets: TweetsPort,
        shaper: Shaper,
        max_id: str | None,
        limit: int | None,
    ) -> Response[list[m.Account]]:
        # 404 unless the caller may see the status (the port decides)
        page: Page[str] = await getattr(tweets, action)(status_id, cursor_page(max_id, limit), viewer_id)
        accounts = await shaper.accounts(page.items)
        return Response(
            [accounts[i] for i in page.items if i in accounts],
            media_type="application/json",
            headers=cursor_links(request, page.next_cursor),
        )

    @get(
        "/{status_id:str}/favourited_by",
        operation_id="mastodonFavouritedBy",
        summary="Who favourited a status, most recent first",
        guards=[scope("read:statuses")],
        opt=may_answer(404),
    )
    @inject
    async def favourited_by(
        self,
        request: Request[Any, Any, Any],
        status_id: StatusId,
        viewer: NamedDependency[Principal | None],
        tweets: FromDishka[TweetsPort],
        max_id: MaxId = None,
        limit: Limit = None,
    ) -> Response[list[m.Account]]:
        shaper = await shaper_for(request)
        viewer_id = viewer.user_id if viewer else None
        return await self._accounts_page(
            request, "liked_by", status_id, viewer_id, tweets, shaper, max_id, limit
        )

    @get(
        "/{status_id:str}/reblogged_by",
        operation_id="mastodonRebloggedBy",
        summary="Who reblogged a status, most recent first",
        guards=[scope("read:statuses")],
        opt=may_answer(404),
    )
    @inject
    async def reblogged_by(
        self,
        request: Request[Any, Any, Any],
        status_id: StatusId,
        viewer: NamedDependency[Principal | None],
        tweets: FromDishka[TweetsPort],
        max_id: MaxId = None,
        limit: Limit = None,
    ) -> Response[list[m.Account]]:
        shaper = await shaper_for(request)
        viewer_id = viewer.user_id if viewer else None
        return await self._accounts_page(
            request, "retweeted_by", status_id, viewer_id, tweets, shaper, max_id, limit
        )
