"""Accounts and tokens (/api/auth), profiles and the follow graph (/api/users), and the JWKS."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from litestar import Controller, Request, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.params import Body, PathParameter, QueryParameter

from boundaries._kernel.errors import DomainError, InvalidInput
from boundaries._kernel.pagination import DEFAULT_PAGE_SIZE, Page, PageRequest
from boundaries.media.errors import MediaNotFound, NotMediaOwner
from boundaries.tweets.dto import AuthorActivity
from boundaries.tweets.port import TweetsPort
from boundaries.users.dto import (
    Account,
    Jwks,
    Login,
    PasswordChange,
    Profile,
    ProfileUpdate,
    RefreshRequest,
    Register,
    Relationship,
    TokenPair,
)
from boundaries.users.errors import (
    AccountSuspended,
    Blocked,
    CannotFollowSelf,
    EmailTaken,
    HandleTaken,
    InvalidCredentials,
    InvalidRefreshToken,
    UserNotFound,
    WrongPassword,
)
from boundaries.users.port import UsersPort
from twitterclone.gateway.auth import FOLLOW, READ, WRITE, Principal, requires
from twitterclone.gateway.di import FromDishka, inject
from twitterclone.gateway.params import BEARER, Cursor, Limit, UserId
from twitterclone.gateway.problems import errors
from twitterclone.gateway.ratelimit import RateRule, charge_login_account, limited

HANDLE_PATTERN = r"^@?[A-Za-z0-9_]{1,15}$"


RelationshipAction = Literal["follow", "unfollow", "block", "unblock", "mute", "unmute"]


def _relationship_route(
    method: type[put] | type[delete],
    prefix: str,
    operation_id: str,
    summary: str,
    action: RelationshipAction,
    raises: tuple[type[DomainError], ...],
    rule: RateRule | None = None,
) -> HTTPRouteHandler:
    """One of the six follow/block/mute routes: ``PUT|DELETE <prefix>/{user_id}``.

    Each calls the users port method named ``action`` with the caller and the target, needs the
    ``follow`` scope and answers the resulting relationship (200, also for DELETE).
    """

    async def handler(
        self: Controller, user_id: UserId, user: NamedDependency[Principal], users: FromDishka[UsersPort]
    ) -> Relationship:
        change: Callable[[str, str], Awaitable[Relationship]] = getattr(users, action)
        return await change(user.user_id, user_id)

    handler.__name__ = handler.__qualname__ = action
    return method(
        f"{prefix}/{{user_id:str}}",
        operation_id=operation_id,
        summary=summary,
        security=BEARER,
        status_code=200,
        guards=[FOLLOW],
        responses=errors(UserNotFound, *raises),
        opt=limited(rule) if rule else None,
    )(inject(handler))


class AuthController(Controller):
    """Registration, login, token refresh and logout."""

    path = "/auth"
    tags = ["auth"]

    @post(
        "/register",
        operation_id="register",
        summary="Create an account",
        description=(
            "A handle is refused (409 `handle-taken`) when it is taken, ignoring case, or looks like "
            "a taken one: the same once `0` reads as `o`, `1`, `i` and `I` as `l`, `rn` as `m`, `vv` as `w` "
            "and `cl` as `d` (so `a1ice` and `aIice` are refused while `alice` exists)."
        ),
        status_code=201,
        responses=errors(HandleTaken, EmailTaken, InvalidInput),
        opt=limited(RateRule.REGISTER),
    )
    @inject
    async def register(self, data: Annotated[Register, Body()], users: FromDishka[UsersPort]) -> Account:
        return await users.register(data)

    @post(
        "/login",
        operation_id="login",
        summary="Log in with handle or email; get tokens",
        status_code=200,
        responses=errors(InvalidCredentials, AccountSuspended),
        opt=limited(RateRule.LOGIN),
    )
    @inject
    async def login(
        self, request: Request[Any, Any, Any], data: Annotated[Login, Body()], users: FromDishka[UsersPort]
    ) -> TokenPair:
        await charge_login_account(request, data.login)  # before the password costs a hash
        return await users.authenticate(data)

    @post(
        "/refresh",
        operation_id="refreshTokens",
        summary="Rotate a refresh token",
        status_code=200,
        responses=errors(InvalidRefreshToken),
        opt=limited(RateRule.TOKEN),
    )
    @inject
    async def refresh(
        self, data: Annotated[RefreshRequest, Body()], users: FromDishka[UsersPort]
    ) -> TokenPair:
        return await users.refresh(data.refresh_token)

    @post(
        "/password",
        operation_id="changePassword",
        summary="Change one's password; every other session and every app's access end",
        description=(
            "The current password is required (422 `wrong-password`, charged against the account's "
            "login budget like a login). The new password follows registration's rules. Every "
            "refresh family of the account (first-party sessions and OAuth apps) is revoked and "
            "every live access token denied, at once in this process and within "
            "`TWITTERCLONE_ACCESS_STATUS_CACHE_S` everywhere else; apps the user authorised must be "
            "authorised again. The answer is the caller's new session (a new token pair)."
        ),
        status_code=200,
        security=BEARER,
        guards=[requires("write", first_party=True)],
        responses=errors(WrongPassword, InvalidInput),
        opt=limited(RateRule.LOGIN),
    )
    @inject
    async def change_password(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[PasswordChange, Body()],
        user: NamedDependency[Principal],
        users: FromDishka[UsersPort],
    ) -> TokenPair:
        # A stolen access token must not buy unlimited guesses at the password it protects.
        await charge_login_account(request, user.user_id)
        pair = await users.change_password(user.user_id, data)
        request.app.state.token_verifier.forget(user.user_id)
        return pair

    @post("/logout", operation_id="logout", summary="Revoke a refresh token's family", status_code=204)
    @inject
    async def logout(self, data: Annotated[RefreshRequest, Body()], users: FromDishka[UsersPort]) -> None:
        await users.logout(data.refresh_token)


class UsersController(Controller):
    """Profiles, search and the follow graph."""

    path = "/users"
    tags = ["users"]

    @get(
        "/me",
        operation_id="getMe",
        summary="One's own account",
        security=BEARER,
        guards=[READ],
        responses=errors(UserNotFound),  # a token whose subject is no account (a service client)
    )
    @inject
    async def me(self, user: NamedDependency[Principal], users: FromDishka[UsersPort]) -> Account:
        return await users.account(user.user_id)

    @patch(
        "/me",
        operation_id="updateMe",
        summary="Change one's display name, bio, avatar or header",
        description=(
            "`avatar_id` and `header_id` name an image the caller uploaded (`POST /api/media`) and "
            'has not shown in a tweet; `""` removes one. The profile then shows its id, and '
            "`GET /api/media/{id}/{variant}` serves it to anyone."
        ),
        security=BEARER,
        guards=[WRITE],
        responses=errors(UserNotFound, MediaNotFound, NotMediaOwner, InvalidInput),
    )
    @inject
    async def update_me(
        self,
        data: Annotated[ProfileUpdate, Body()],
        user: NamedDependency[Principal],
        users: FromDishka[UsersPort],
    ) -> Account:
        return await users.update_profile(user.user_id, data)

    @get(
        "/search",
        operation_id="searchUsers",
        summary="Users whose handle or name starts with q",
        guards=[READ],
    )
    @inject
    async def search(
        self,
        users: FromDishka[UsersPort],
        q: Annotated[str, QueryParameter(name="q", min_length=1, max_length=50, description="The prefix.")],
        cursor: Cursor = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
    ) -> Page[Profile]:
        return await users.search(q, PageRequest(cursor=cursor, limit=limit))

    @get(
        "/by-handle/{handle:str}",
        operation_id="getUserByHandle",
        summary="A profile by handle (any case)",
        guards=[READ],
        responses=errors(UserNotFound),
    )
    @inject
    async def by_handle(
        self, handle: Annotated[str, PathParameter(pattern=HANDLE_PATTERN)], users: FromDishka[UsersPort]
    ) -> Profile:
        return await users.profile_by_handle(handle)

    @get(
        "/{user_id:str}",
        operation_id="getUser",
        summary="A profile by id",
        guards=[READ],
        responses=errors(UserNotFound),
    )
    @inject
    async def get_user(self, user_id: UserId, users: FromDishka[UsersPort]) -> Profile:
        return await users.profile(user_id)

    @get(
        "/{user_id:str}/activity",
        operation_id="getUserActivity",
        summary="How many statuses a user has (not direct ones) and when the last was posted",
        guards=[READ],
        responses=errors(UserNotFound),
    )
    @inject
    async def activity(
        self, user_id: UserId, users: FromDishka[UsersPort], tweets: FromDishka[TweetsPort]
    ) -> AuthorActivity:
        profile = await users.profile(user_id)  # UserNotFound for no such user
        return (await tweets.author_activity([profile.id]))[0]

    @get(
        "/{user_id:str}/followers",
        operation_id="listFollowers",
        summary="Who follows a user, newest first",
        guards=[READ],
        responses=errors(UserNotFound, InvalidInput),
    )
    @inject
    async def followers(
        self,
        user_id: UserId,
        users: FromDishka[UsersPort],
        cursor: Cursor = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
    ) -> Page[Profile]:
        return await users.followers(user_id, PageRequest(cursor=cursor, limit=limit))

    @get(
        "/{user_id:str}/following",
        operation_id="listFollowing",
        summary="Whom a user follows, newest first",
        guards=[READ],
        responses=errors(UserNotFound, InvalidInput),
    )
    @inject
    async def following(
        self,
        user_id: UserId,
        users: FromDishka[UsersPort],
        cursor: Cursor = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
    ) -> Page[Profile]:
        return await users.following(user_id, PageRequest(cursor=cursor, limit=limit))

    @get(
        "/{user_id:str}/relationship",
        operation_id="getRelationship",
        summary="How the caller stands to a user",
        security=BEARER,
        guards=[READ],
        responses=errors(UserNotFound),
    )
    @inject
    async def relationship(
        self, user_id: UserId, user: NamedDependency[Principal], users: FromDishka[UsersPort]
    ) -> Relationship:
        return await users.relationship(user.user_id, user_id)

    follow = _relationship_route(
        put,
        "/me/following",
        "follow",
        "Follow a user",
        "follow",
        (CannotFollowSelf, Blocked, InvalidInput),
        RateRule.FOLLOW,
    )
    unfollow = _relationship_route(
        delete, "/me/following", "unfollow", "Stop following a user", "unfollow", (CannotFollowSelf,)
    )
    block = _relationship_route(put, "/me/blocking", "block", "Block a user", "block", (InvalidInput,))
    unblock = _relationship_route(delete, "/me/blocking", "unblock", "Lift a block", "unblock", ())
    mute = _relationship_route(put, "/me/muting", "mute", "Mute a user", "mute", (InvalidInput,))
    unmute = _relationship_route(delete, "/me/muting", "unmute", "Lift a mute", "unmute", ())


class JwksController(Controller):
    """The public keys that verify access tokens."""

    path = "/.well-known"
    tags = ["auth"]

    @get("/jwks.json", operation_id="getJwks", summary="Public keys for access tokens (JWKS)")
    @inject
    async def jwks(self, users: FromDishka[UsersPort]) -> Jwks:
        return await users.jwks()
