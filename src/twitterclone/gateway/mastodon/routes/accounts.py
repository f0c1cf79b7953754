"""Accounts (/api/v1/accounts): one's own, lookup, search, statuses, the follow graph.

Translation only: the users port decides who may follow, block or mute whom; the tweets port
what a viewer may read. Relationship answers come straight from the port's answer, so a
follow reports ``following: true`` at once.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, patch, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from boundaries._kernel.pagination import PageRequest
from boundaries.media.dto import Upload
from boundaries.media.port import MediaPort
from boundaries.tweets.dto import UserTweetsFilter
from boundaries.tweets.port import TweetsPort
from boundaries.users.dto import ProfileUpdate
from boundaries.users.dto import Relationship as NativeRelationship
from boundaries.users.errors import UserNotFound
from boundaries.users.port import UsersPort
from twitterclone.gateway.auth import Principal
from twitterclone.gateway.di import FromDishka, inject
from twitterclone.gateway.mastodon import entities as m
from twitterclone.gateway.mastodon.body import BadParams, body_operation, convert, raw_params
from twitterclone.gateway.mastodon.deps import TAG, may_answer, shaper_for, statuses_response
from twitterclone.gateway.mastodon.paging import (
    Limit,
    MaxId,
    MinId,
    SinceId,
    clamp,
    cursor_links,
    cursor_page,
    id_links,
    id_page,
)
from twitterclone.gateway.mastodon.params import AccountId, Flag, IdList
from twitterclone.gateway.mastodon.scopes import scope
from twitterclone.gateway.mastodon.shaping import relationship
from twitterclone.gateway.params import BEARER
from twitterclone.gateway.ratelimit import RateRule, limited
from twitterclone.gateway.routes.media import upload_body_limit

#: At most this many relationships in one call (Mastodon caps id[] too).
MAX_RELATIONSHIPS = 40


class CredentialsUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """PATCH /api/v1/accounts/update_credentials (the fields this server stores)."""

    display_name: Annotated[str, msgspec.Meta(max_length=50)] | None = None
    note: Annotated[str, msgspec.Meta(max_length=160)] | None = None
    #: Image files (multipart), or "" to remove the image.
    avatar: str | None = None
    header: str | None = None


class FollowOptions(msgspec.Struct, frozen=True, kw_only=True):
    """POST /api/v1/accounts/:id/follow (``reblogs``, ``notify``, ``languages`` are accepted)."""

    reblogs: bool = True
    notify: bool = False
    languages: list[str] = msgspec.field(default_factory=list)


class MuteOptions(msgspec.Struct, frozen=True, kw_only=True):
    """POST /api/v1/accounts/:id/mute."""

    notifications: bool = True
    duration: int = 0


def _lookup_handle(acct: str, host: str) -> str:
    """The local handle an ``acct`` names (``user``, ``@user`` or ``user@this-host``)."""
    name, _, domain = acct.strip().lstrip("@").partition("@")
    if domain and domain.lower() not in (host.lower(), host.split(":")[0].lower()):
        raise UserNotFound("Record not found")  # no federation: other servers' accounts are unknown
    return name


class AccountsController(Controller):
    """Accounts and the follow graph."""

    path = "/v1/accounts"
    tags = [TAG]

    @get(
        "/verify_credentials",
        operation_id="mastodonVerifyCredentials",
        summary="The caller's own account, with its source",
        security=BEARER,
        guards=[scope("profile")],
        opt=may_answer(404),
    )
    @inject
    async def verify_credentials(
        self, request: Request[Any, Any, Any], user: NamedDependency[Principal], users: FromDishka[UsersPort]
    ) -> m.CredentialAccount:
        shaper = await shaper_for(request)
        return await shaper.credential_account(await users.account(user.user_id))

    @patch(
        "/update_credentials",
        operation_id="mastodonUpdateCredentials",
        summary="Change one's display name or note (bio)",
        security=BEARER,
        guards=[scope("write:accounts"), upload_body_limit],
        operation_class=body_operation(CredentialsUpdate),
        request_max_body_size=None,  # images: the upload guard enforces the media limit
        opt=may_answer(404, 413, 422),
    )
    @inject
    async def update_credentials(
        self,
        request: Request[Any, Any, Any],
        user: NamedDependency[Principal],
        users: FromDishka[UsersPort],
        media: FromDishka[MediaPort],
    ) -> m.CredentialAccount:
        shaper = await shaper_for(request)
        params = await raw_params(request)
        form = convert(params, CredentialsUpdate)
        images: dict[str, str] = {}
        for role in ("avatar", "header"):
            value = params.get(role)
            if isinstance(value, UploadFile):  # a new image: uploaded here, then shown by the profile
                upload = Upload(owner_id=user.user_id, filename=value.filename, data=await value.read())
                images[role] = (await media.upload(upload)).id
            elif value == "":
                images[role] = ""  # Mastodon clients clear an image with an empty field
            elif value is not None:
                raise BadParams(f"{role} must be an image file (multipart/form-data)")
        update = ProfileUpdate(
            display_name=form.display_name,
            bio=form.note,
            avatar_id=images.get("avatar"),
            header_id=images.get("header"),
        )
        return await shaper.credential_account(await users.update_profile(user.user_id, update))

    @get(
        "/lookup",
        operation_id="mastodonLookupAccount",
        summary="An account by its acct (username)",
        guards=[scope("read:accounts")],
        opt=may_answer(404),
    )
    @inject
    async def lookup(
        self,
        request: Request[Any, Any, Any],
        acct: Annotated[str, QueryParameter(min_length=1, max_length=300)],
        users: FromDishka[UsersPort],
    ) -> m.Account:
        shaper = await shaper_for(request)
        handle = _lookup_handle(acct, request.url.netloc)
        return await shaper.one_account(await users.profile_by_handle(handle))

    @get(
        "/search",
        operation_id="mastodonSearchAccounts",
        summary="Accounts whose username or display name starts with q",
        guards=[scope("read:accounts")],
    )
    @inject
    async def search(
        self,
        request: Request[Any, Any, Any],
        q: Annotated[str, QueryParameter(min_length=1, max_length=300)],
        users: FromDishka[UsersPort],
        limit: Limit = None,
        resolve: Flag = False,
        following: Flag = False,
    ) -> list[m.Account]:
        shaper = await shaper_for(request)
        del resolve, following  # no remote accounts to resolve; following-only is not filtered yet
        prefix = q.strip().lstrip("@").split("@")[0]
        if not prefix:
            return []
        page = await users.search(prefix[:50], PageRequest(limit=clamp(limit, 40)))
        return await shaper.accounts_of(page.items)

    @get(
        "/relationships",
        operation_id="mastodonRelationships",
        summary="How the caller stands to each of the given accounts",
        security=BEARER,
        guards=[scope("read:follows")],
    )
    @inject
    async def relationships(
        self,
        user: NamedDependency[Principal],
        users: FromDishka[UsersPort],
        ids: Annotated[IdList, QueryParameter(name="id[]", required=False)] = None,
    ) -> list[m.Relationship]:
        answers: list[m.Relationship] = []
        for target in list(dict.fromkeys(ids or []))[:MAX_RELATIONSHIPS]:
            try:
                answers.append(relationship(await users.relationship(user.user_id, target)))
            except UserNotFound:
                continue  # Mastodon leaves unknown ids out
        return answers

    @get(
        "/{account_id:str}",
        operation_id="mastodonGetAccount",
        summary="An account",
        guards=[scope("read:accounts")],
        opt=may_answer(404),
    )
    @inject
    async def get_account(
        self, request: Request[Any, Any, Any], account_id: AccountId, users: FromDishka[UsersPort]
    ) -> m.Account:
        shaper = await shaper_for(request)
        return await shaper.one_account(await users.profile(account_id))

    @get(
        "/{account_id:str}/statuses",
        operation_id="mastodonAccountStatuses",
        summary="An account's statuses and reblogs, newest first",
        guards=[scope("read:statuses")],
        opt=may_answer(404),
    )
    @inject
    async def statuses(
        self,
        request: Request[Any, Any, Any],
        account_id: AccountId,
        viewer: NamedDependency[Principal | None],
        users: FromDishka[UsersPort],
        tweets: FromDishka[TweetsPort],
        max_id: MaxId = None,
        since_id: SinceId = None,
        min_id: MinId = None,
        limit: Limit = None,
        exclude_replies: Flag = False,
        exclude_reblogs: Flag = False,
        only_media: Flag = False,
        pinned: Flag = False,
    ) -> Response[list[m.Status]]:
        shaper = await shaper_for(request)
        await users.profile(account_id)  # 404 for an unknown account, as Mastodon answers
        viewer_id = viewer.user_id if viewer else None
        filters = UserTweetsFilter(
            exclude_replies=exclude_replies,
            exclude_retweets=exclude_reblogs,
            only_media=only_media,
            pinned=pinned,
        )
        found = await tweets.user_tweets(
            account_id, viewer_id, id_page(max_id, since_id, min_id, limit), filters
        )
        body = await shaper.status_page(found.items, viewer_id)
        if pinned:  # pins are few (at most 5) and ordered by pin, not by id: one page
            return statuses_response(body)
        links = id_links(request, [t.id for t in found.items], more=found.next_cursor is not None)
        return statuses_response(body, links)

    @get(
        "/{account_id:str}/followers",
        operation_id="mastodonFollowers",
        summary="Who follows an account, most recent first",
        guards=[scope("read:accounts")],
        opt=may_answer(404),
    )
    @inject
    async def followers(
        self,
        request: Request[Any, Any, Any],
        account_id: AccountId,
        users: FromDishka[UsersPort],
        max_id: MaxId = None,
        limit: Limit = None,
    ) -> Response[list[m.Account]]:
        shaper = await shaper_for(request)
        page = await users.followers(account_id, cursor_page(max_id, limit))
        return Response(
            await shaper.accounts_of(page.items),
            media_type="application/json",
            headers=cursor_links(request, page.next_cursor),
        )

    @get(
        "/{account_id:str}/following",
        operation_id="mastodonFollowing",
        summary="Whom an account follows, most recent first",
        guards=[scope("read:accounts")],
        opt=may_answer(404),
    )
    @inject
    async def following(
        self,
        request: Request[Any, Any, Any],
        account_id: AccountId,
        users: FromDishka[UsersPort],
        max_id: MaxId = None,
        limit: Limit = None,
    ) -> Response[list[m.Account]]:
        shaper = await shaper_for(request)
        page = await users.following(account_id, cursor_page(max_id, limit))
        return Response(
            await shaper.accounts_of(page.items),
            media_type="application/json",
            headers=cursor_links(request, page.next_cursor),
        )

    @post(
        "/{account_id:str}/follow",
        operation_id="mastodonFollow",
        summary="Follow an account (answers following: true at once)",
        status_code=200,
        security=BEARER,
        guards=[scope("write:follows")],
        operation_class=body_operation(FollowOptions),
        opt={**limited(RateRule.FOLLOW), **may_answer(403, 404, 422)},
    )
    @inject
    async def follow(
        self,
        request: Request[Any, Any, Any],
        account_id: AccountId,
        user: NamedDependency[Principal],
        users: FromDishka[UsersPort],
    ) -> m.Relationship:
        convert(await raw_params(request), FollowOptions)  # checked; reblogs/notify are not stored yet
        return relationship(await users.follow(user.user_id, account_id))

    @post(
        "/{account_id:str}/mute",
        operation_id="mastodonMute",
        summary="Mute an account",
        status_code=200,
        security=BEARER,
        guards=[scope("write:mutes")],
        operation_class=body_operation(MuteOptions),
        opt=may_answer(404, 422),
    )
    @inject
    async def mute(
        self,
        request: Request[Any, Any, Any],
        account_id: AccountId,
        user: NamedDependency[Principal],
        users: FromDishka[UsersPort],
    ) -> m.Relationship:
        convert(await raw_params(request), MuteOptions)
        return relationship(await users.mute(user.user_id, account_id))

    async def _act(self, action: str, user: Principal, account_id: str, users: UsersPort) -> m.Relationship:
        native: NativeRelationship = await getattr(users, action)(user.user_id, account_id)
        return relationship(native)

    @post(
        "/{account_id:str}/unfollow",
        operation_id="mastodonUnfollow",
        summary="Stop following an account",
        status_code=200,
        security=BEARER,
        guards=[scope("write:follows")],
        opt=may_answer(404, 422),
    )
    @inject
    async def unfollow(
        self, account_id: AccountId, user: NamedDependency[Principal], users: FromDishka[UsersPort]
    ) -> m.Relationship:
        return await self._act("unfollow", user, account_id, users)

    @post(
        "/{account_id:str}/block",
        operation_id="mastodonBlock",
        summary="Block an account (and end follows both ways)",
        status_code=200,
        security=BEARER,
        guards=[scope("write:blocks")],
        opt=may_answer(404, 422),
    )
    @inject
    async def block(
        self, account_id: AccountId, user: NamedDependency[Principal], users: FromDishka[UsersPort]
    ) -> m.Relationship:
        return await self._act("block", user, account_id, users)

    @post(
        "/{account_id:str}/unblock",
        operation_id="mastodonUnblock",
        summary="Lift a block",
        status_code=200,
        security=BEARER,
        guards=[scope("write:blocks")],
        opt=may_answer(404, 422),
    )
    @inject
    async def unblock(
        self, account_id: AccountId, user: NamedDependency[Principal], users: FromDishka[UsersPort]
    ) -> m.Relationship:
        return await self._act("unblock", user, account_id, users)

    @post(
        "/{account_id:str}/unmute",
        operation_id="mastodonUnmute",
        summary="Lift a mute",
        status_code=200,
        security=BEARER,
        guards=[scope("write:mutes")],
        opt=may_answer(404, 422),
    )
    @inject
    async def unmute(
        self, account_id: AccountId, user: NamedDependency[Principal], users: FromDishka[UsersPort]
    ) -> m.Relationship:
        return await self._act("unmute", user, account_id, users)
