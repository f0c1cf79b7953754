"""Moderation and key management (/api/admin): administrators only, checked against the users module.

Every route needs a first-party token with the ``write`` scope *and* an account whose role is
admin in the users store right now (a token claim alone is not trusted). After a suspension or a
key change the handler drops this process's caches, so the effect is immediate here; other
processes follow within the verifier's cache times.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, delete, get, post
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.handlers.base import BaseRouteHandler
from litestar.params import PathParameter

from boundaries._kernel.errors import InvalidInput
from boundaries.tweets.errors import TweetNotFound
from boundaries.tweets.port import TweetsPort
from boundaries.users.dto import AccountStatus, SigningKey
from boundaries.users.errors import NotAdmin, SigningKeyInUse, SigningKeyNotFound, UserNotFound
from boundaries.users.port import UsersPort
from twitterclone.gateway.auth import InvalidToken, Principal, TokenVerifier, current_principal, requires
from twitterclone.gateway.di import FromDishka, inject
from twitterclone.gateway.params import BEARER, TweetId, UserId
from twitterclone.gateway.problems import errors, refuses

Kid = Annotated[str, PathParameter(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="A signing key id.")]


@refuses(InvalidToken, NotAdmin)
async def admin_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Refuse anyone whose account is not an active administrator (403), or who sent no token (401)."""
    principal = await current_principal(connection)
    if principal is None:
        raise InvalidToken("this route needs an access token (Authorization: Bearer …)")
    await ensure_admin(connection, principal)


async def ensure_admin(connection: ASGIConnection[Any, Any, Any, Any], principal: Principal) -> None:
    """Raise NotAdmin unless the caller's account is an active administrator in the users store now."""
    users: UsersPort = await connection.app.state.dishka_container.get(UsersPort)
    try:
        status = await users.account_status(principal.user_id)
    except UserNotFound as exc:  # an unknown subject (e.g. a service client) is simply not an admin
        raise NotAdmin("this needs an administrator") from exc
    if status.role != "admin" or status.suspended:
        raise NotAdmin("this needs an administrator")


def _verifier(request: Request[Any, Any, Any]) -> TokenVerifier:
    verifier: TokenVerifier = request.app.state.token_verifier
    return verifier


class AdminController(Controller):
    """Suspending accounts, removing tweets, rotating and retiring signing keys."""

    path = "/admin"
    tags = ["admin"]
    guards = [requires("write", first_party=True), admin_only]
    security = BEARER

    @get(
        "/users/{user_id:str}",
        operation_id="adminGetAccountStatus",
        summary="An account's role and suspension",
        responses=errors(UserNotFound),
    )
    @inject
    async def account_status(self, user_id: UserId, users: FromDishka[UsersPort]) -> AccountStatus:
        return await users.account_status(user_id)

    @post(
        "/users/{user_id:str}/suspend",
        operation_id="adminSuspendUser",
        summary="Suspend an account: its tokens stop working at once",
        status_code=200,
        responses=errors(UserNotFound, InvalidInput),  # InvalidInput: one's own account
    )
    @inject
    async def suspend(
        self,
        request: Request[Any, Any, Any],
        user_id: UserId,
        user: NamedDependency[Principal],
        users: FromDishka[UsersPort],
    ) -> AccountStatus:
        status = await users.suspend(user.user_id, user_id)
        _verifier(request).forget()  # the user's (and their clients') tokens, at once in this process
        return status

    @post(
        "/users/{user_id:str}/unsuspend",
        operation_id="adminUnsuspendUser",
        summary="Lift a suspension",
        status_code=200,
        responses=errors(UserNotFound),
    )
    @inject
    async def unsuspend(
        self,
        request: Request[Any, Any, Any],
        user_id: UserId,
        user: NamedDependency[Principal],
        users: FromDishka[UsersPort],
    ) -> AccountStatus:
        status = await users.unsuspend(user.user_id, user_id)
        _verifier(request).forget(user_id)
        return status

    @delete(
        "/tweets/{tweet_id:str}",
        operation_id="adminRemoveTweet",
        summary="Remove any tweet",
        responses=errors(TweetNotFound),
    )
    @inject
    async def remove_tweet(self, tweet_id: TweetId, tweets: FromDishka[TweetsPort]) -> None:
        await tweets.remove(tweet_id)

    @get(
        "/keys", operation_id="adminListSigningKeys", summary="Signing keys and their lifecycle, newest first"
    )
    @inject
    async def keys(self, user: NamedDependency[Principal], users: FromDishka[UsersPort]) -> list[SigningKey]:
        return await users.signing_keys(user.user_id)

    @post(
        "/keys/rotate",
        operation_id="adminRotateSigningKey",
        summary="Make a new current signing key; the previous one verifies until retired",
        status_code=201,
    )
    @inject
    async def rotate(
        self, request: Request[Any, Any, Any], user: NamedDependency[Principal], users: FromDishka[UsersPort]
    ) -> SigningKey:
        key = await users.rotate_signing_key(user.user_id)
        _verifier(request).invalidate_keys()
        return key

    @post(
        "/keys/{kid:str}/retire",
        operation_id="adminRetireSigningKey",
        summary="Retire a rotated key: tokens it signed stop verifying",
        status_code=200,
        responses=errors(SigningKeyNotFound, SigningKeyInUse),
    )
    @inject
    async def retire(
        self,
        request: Request[Any, Any, Any],
        kid: Kid,
        user: NamedDependency[Principal],
        users: FromDishka[UsersPort],
    ) -> SigningKey:
        key = await users.retire_signing_key(user.user_id, kid)
        _verifier(request).invalidate_keys()
        return key
