"""Verifying user access tokens at the gateway, locally, with the users module's JWKS.

Keys are fetched through the users port and cached; an unknown ``kid`` triggers one
refetch (rate-limited), so rotated keys are picked up without restart.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import jwt
import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import Provide

from boundaries._kernel.errors import Unauthorized
from boundaries.users.port import UsersPort


class InvalidToken(Unauthorized):
    code = "invalid-token"


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """Who is calling: the user id, and the scopes the token grants."""

    user_id: str
    scopes: frozenset[str] = frozenset()
    token_id: str | None = None


class TokenVerifier:
    """Checks signature, algorithm, kid, iss, aud, exp and typ of access tokens."""

    ACCESS_TYP = "at+jwt"

    def __init__(
        self,
        users: Callable[[], Awaitable[UsersPort]],
        *,
        refetch_interval_s: float = 30.0,
        leeway_s: float = 5.0,
    ) -> None:
        self._get_users = users
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = 0.0
        self._refetch_interval = refetch_interval_s
        self._leeway = leeway_s
        self._settings: tuple[str, str, str] | None = None

    async def _load(self) -> None:
        users = await self._get_users()
        jwks = await users.jwks()
        settings = await users.token_settings()
        self._settings = (settings.issuer, settings.audience, settings.algorithm)
        self._keys = {k.kid: jwt.PyJWK(msgspec.to_builtins(k)) for k in jwks.keys}
        self._fetched_at = time.monotonic()

    async def _key(self, kid: str) -> jwt.PyJWK:
        if kid not in self._keys and time.monotonic() - self._fetched_at > self._refetch_interval:
            await self._load()
        if self._settings is None:
            await self._load()
        key = self._keys.get(kid)
        if key is None:
            raise InvalidToken("the token was signed with an unknown key")
        return key

    async def verify(self, token: str) -> Principal:
        """Return the caller of a valid access token; raise InvalidToken otherwise."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("the access token is malformed") from exc
        if header.get("typ") != self.ACCESS_TYP:
            raise InvalidToken("the token is not an access token")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise InvalidToken("the token names no signing key")
        key = await self._key(kid)
        assert self._settings is not None
        issuer, audience, algorithm = self._settings
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[algorithm],
                audience=audience,
                issuer=issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("the access token has expired") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"the access token is not valid: {exc}") from exc
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise InvalidToken("the access token names no subject")
        scope = claims.get("scope", "")
        return Principal(
            user_id=sub,
            scopes=frozenset(scope.split()) if isinstance(scope, str) else frozenset(),
            token_id=claims.get("jti"),
        )


def _bearer(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    header = connection.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("use the Authorization header as 'Bearer <access token>'")
    return token.strip()


async def _verifier(request: Request[Any, Any, Any]) -> TokenVerifier:
    verifier: TokenVerifier = request.app.state.token_verifier
    return verifier


async def require_user(request: Request[Any, Any, Any]) -> Principal:
    """Dependency ``user``: the authenticated caller, or a 401 problem."""
    token = _bearer(request)
    if token is None:
        raise InvalidToken("this route needs an access token (Authorization: Bearer …)")
    return await (await _verifier(request)).verify(token)


async def optional_user(request: Request[Any, Any, Any]) -> Principal | None:
    """Dependency ``viewer``: the caller when a token is sent, else None (a bad token is 401)."""
    token = _bearer(request)
    if token is None:
        return None
    return await (await _verifier(request)).verify(token)


#: Register on the app: handlers then declare ``user: Principal`` or ``viewer: Principal | None``.
AUTH_DEPENDENCIES = {
    "user": Provide(require_user),
    "viewer": Provide(optional_user),
}
