"""Accounts and tokens (/api/auth), profiles and the follow graph (/api/users), and the JWKS."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import Body, PathParameter, QueryParameter

from boundaries._kernel.pagination import DEFAULT_PAGE_SIZE, Page, PageRequest
from boundaries.users.dto import (
    Account,
    Jwks,
    Login,
    Profile,
    ProfileUpdate,
    RefreshRequest,
    Register,
    Relationship,
    TokenPair,
)
from boundaries.users.port import UsersPort
from twitterclone.gateway.auth import FOLLOW, READ, WRITE, Principal
from twitterclone.gateway.di import FromDishka, inject

ID_PATTERN = r"^[0-9]{1,20}$"
HANDLE_PATTERN = r"^@?[A-Za-z0-9_]{1,15}$"
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]

UserId = Annotated[str, PathParameter(pattern=ID_PATTERN, description="A user id (decimal string).")]
Cursor = Annotated[
    str | None, QueryParameter(name="cursor", description="From a previous page's next_cursor.")
]
Limit = Annotated[int, QueryParameter(name="limit", ge=1, le=100, description="Page size, 1-100.")]


class AuthController(Controller):
    """Registration, login, token refresh and logout."""

    path = "/auth"
    tags = ["auth"]

    @post("/register", operation_id="register", summary="Create an account", status_code=201)
    @inject
    async def register(self, data: Annotated[Register, Body()], users: FromDishka[UsersPort]) -> Account:
        return await users.register(data)

    @post("/login", operation_id="login", summary="Log in with handle or email; get tokens", status_code=200)
    @inject
    async def login(self, data: Annotated[Login, Body()], users: FromDishka[UsersPort]) -> TokenPair:
        return await users.authenticate(data)

    @post("/refresh", operation_id="refreshTokens", summary="Rotate a refresh token", status_code=200)
    @inject
    async def refresh(
        self, data: Annotated[RefreshRequest, Body()], users: FromDishka[UsersPort]
    ) -> TokenPair:
        return await users.refresh(data.refresh_token)

    @post("/logout", operation_id="logout", summary="Revoke a refresh token's family", status_code=204)
    @inject
    async def logout(self, data: Annotated[RefreshRequest, Body()], users: FromDishka[UsersPort]) -> None:
        await users.logout(data.refresh_token)


class UsersController(Controller):
    """Profiles, search and the follow graph."""

    path = "/users"
    tags = ["users"]

    @get("/me", operation_id="getMe", summary="One's own account", security=BEARER, guards=[READ])
    @inject
    async def me(self, user: NamedDependency[Principal], users: FromDishka[UsersPort]) -> Account:
        return await users.account(user.user_id)

    @patch(
        "/me",
        operation_id="updateMe",
        summary="Change one's display name or bio",
        security=BEARER,
        guards=[WRITE],
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
    )
    @inject
    async def by_handle(
        self, handle: Annotated[str, PathParameter(pattern=HANDLE_PATTERN)], users: FromDishka[UsersPort]
    ) -> Profile:
        return await users.profile_by_handle(handle)

    @get("/{user_id:str}", operation_id="getUser", summary="A profile by id", guards=[READ])
    @inject
    async def get_user(self, user_id: UserId, users: FromDishka[UsersPort]) -> Profile:
        return await users.profile(user_id)

    @get(
        "/{user_id:str}/followers",
        operation_id="listFollowers",
        summary="Who follows a user, newest first",
        guards=[READ],
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
    )
    @inject
    async def relationship(
        self, user_id: UserId, user: NamedDependency[Principal], users: FromDishka[UsersPort]
    ) -> Relationship:
        return await users.relationship(user.user_id, user_id)

    @put(
        "/me/following/{user_id:str}",
        operation_id="follow",
        summary="Follow a user",
        security=BEARER,
        guards=[FOLLOW],
    )
    @inject
    async def follow(
        self, user_id: UserId, user: NamedDependency[Principal], users: FromDishka[UsersPort]
    ) -> Relationship:
        return await users.follow(user.user_id, user_id)

    @delete(
        "/me/following/{user_id:str}",
        operation_id="unfollow",
        summary="Stop following a user",
        security=BEARER,
        status_code=200,
        guards=[FOLLOW],
    )
    @inject
    async def unfollow(
        self, user_id: UserId, user: NamedDependency[Principal], users: FromDishka[UsersPort]
    ) -> Relationship:
        return await users.unfollow(user.user_id, user_id)

    @put(
        "/me/blocking/{user_id:str}",
        operation_id="block",
        summary="Block a user",
        security=BEARER,
        guards=[FOLLOW],
    )
    @inject
    async def block(
        self, user_id: UserId, user: NamedDependency[Principal], users: FromDishka[UsersPort]
    ) -> Relationship:
        return await users.block(user.user_id, user_id)

    @delete(
        "/me/blocking/{user_id:str}",
        operation_id="unblock",
        summary="Lift a block",
        security=BEARER,
        status_code=200,
        guards=[FOLLOW],
    )
    @inject
    async def unblock(
        self, user_id: UserId, user: NamedDependency[Principal], users: FromDishka[UsersPort]
    ) -> Relationship:
        return await users.unblock(user.user_id, user_id)

    @put(
        "/me/muting/{user_id:str}",
        operation_id="mute",
        summary="Mute a user",
        security=BEARER,
        guards=[FOLLOW],
    )
    @inject
    async def mute(
        self, user_id: UserId, user: NamedDependency[Principal], users: FromDishka[UsersPort]
    ) -> Relationship:
        return await users.mute(user.user_id, user_id)

    @delete(
        "/me/muting/{user_id:str}",
        operation_id="unmute",
        summary="Lift a mute",
        security=BEARER,
        status_code=200,
        guards=[FOLLOW],
    )
    @inject
    async def unmute(
        self, user_id: UserId, user: NamedDependency[Principal], users: FromDishka[UsersPort]
    ) -> Relationship:
        return await users.unmute(user.user_id, user_id)


class JwksController(Controller):
    """The public keys that verify access tokens."""

    path = "/.well-known"
    tags = ["auth"]

    @get("/jwks.json", operation_id="getJwks", summary="Public keys for access tokens (JWKS)")
    @inject
    async def jwks(self, users: FromDishka[UsersPort]) -> Jwks:
        return await users.jwks()
