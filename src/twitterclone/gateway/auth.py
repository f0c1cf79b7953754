"""Verifying user access tokens at the gateway, locally, with the users module's JWKS.

Keys are fetched through the users port and cached for at most ``jwks_max_age_s``; an unknown
``kid`` triggers one refetch (rate-limited), so rotated keys are picked up without restart and
a retired key stops verifying within seconds (at once in the process that retired it).

After the signature, the verifier asks the users port whether the token's account may still act
(not suspended, token not revoked) and trusts the answer for ``status_cache_s``: a suspension
takes effect at once in the process that made it and within that time everywhere else.

Scopes are enforced per route by the ``requires(scope)`` guard, with Mastodon's implication
(boundaries/users/scopes.py): ``read`` covers every ``read:*`` a Mastodon route may need, ``write``
every ``write:*``, ``follow`` the block/follow/mute ones; a native route's broad need is met only
by the broad scope.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import jwt
import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import Provide
from litestar.handlers.base import BaseRouteHandler

from boundaries._kernel.errors import DomainError, Forbidden, Unauthorized
from boundaries._kernel.ids import is_id
from boundaries.users.port import UsersPort
from boundaries.users.scopes import covers

log = logging.getLogger("twitterclone.gateway")


class InvalidToken(Unauthorized):
    code = "invalid-token"


class InsufficientScope(Forbidden):
    code = "insufficient-scope"


class FirstPartyOnly(Forbidden):
    code = "first-party-only"


class UserTokenRequired(Forbidden):
    code = "user-token-required"


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """Who is calling: the user id, the scopes the token grants, and the OAuth client if any.

    ``client_id`` is None for first-party tokens (from /api/auth/login).
    """

    user_id: str
    scopes: frozenset[str] = frozenset()
    token_id: str | None = None
    client_id: str | None = None


class TokenVerifier:
    """Checks signature, algorithm, kid, iss, aud, exp and typ of access tokens."""

    ACCESS_TYP = "at+jwt"

    #: Bound on the status cache, so a flood of distinct tokens cannot grow it without end.
    MAX_STATUS_ENTRIES = 50_000
    #: Bound on the tokens remembered as verified (only valid tokens are ever remembered).
    MAX_VERIFIED_ENTRIES = 100_000

    def __init__(
        self,
        users: Callable[[], Awaitable[UsersPort]],
        *,
        refetch_interval_s: float = 1.0,
        leeway_s: float = 5.0,
        jwks_max_age_s: float = 5.0,
        status_cache_s: float = 1.0,
    ) -> None:
        self._get_users = users
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = 0.0
        self._refetch_interval = refetch_interval_s
        self._max_age = jwks_max_age_s
        self._leeway = leeway_s
        self._settings: tuple[str, str, str] | None = None
        self._status_ttl = status_cache_s
        self._status: dict[tuple[str, str | None], tuple[float, bool]] = {}
        self._load_lock = asyncio.Lock()
        #: token -> (kid, usable until (epoch s), principal), for tokens that passed every check.
        self._verified: dict[str, tuple[str, float, Principal]] = {}

    async def _load(self) -> None:
        fetched_before = self._fetched_at
        async with self._load_lock:
            if self._fetched_at != fetched_before:
                return  # another request reloaded while this one waited
            users = await self._get_users()
            jwks = await users.jwks()
            settings = await users.token_settings()
            self._settings = (settings.issuer, settings.audience, settings.algorithm)
            self._keys = {k.kid: jwt.PyJWK(msgspec.to_builtins(k)) for k in jwks.keys}
            self._fetched_at = time.monotonic()

    def invalidate_keys(self) -> None:
        """Forget the cached JWKS (after a rotation or retirement in this process)."""
        self._fetched_at = 0.0
        self._settings = None
        self._verified.clear()

    def forget(self, subject: str | None = None) -> None:
        """Forget cached account statuses: of one subject, or all (after a suspension here)."""
        if subject is None:
            self._status.clear()
            return
        for key in [k for k in self._status if k[0] == subject]:
            del self._status[key]

    async def _key(self, kid: str) -> jwt.PyJWK:
        age = time.monotonic() - self._fetched_at
        if (
            self._settings is None
            or age > self._max_age
            or (kid not in self._keys and age > self._refetch_interval)
        ):
            try:
                await self._load()
            except (DomainError, OSError, TimeoutError):
                if self._settings is None:
                    raise
                # Keep verifying with the keys we have while the users module is unreachable; retry soon.
                log.warning("could not refresh the JWKS; using the cached keys")
                self._fetched_at = time.monotonic() - self._max_age + self._refetch_interval
        key = self._keys.get(kid)
        if key is None:
            raise InvalidToken("the token was signed with an unknown key")
        return key

    async def verify(self, token: str) -> Principal:
        """Return the caller of a valid access token; raise InvalidToken otherwise.

        A token whose signature and claims were checked before is not decoded again until it
        expires (the signature check is most of the cost), but its key must still be current
        (a retired key fails at once) and its account status is asked for as always.
        """
        seen = self._verified.get(token)
        if seen is not None:
            kid, valid_until, principal = seen
            if time.time() < valid_until:
                await self._key(kid)  # raises once the key is retired
                if not await self._active(principal.user_id, principal.token_id):
                    raise InvalidToken("the access token was revoked, or its account is suspended")
                return principal
            del self._verified[token]
        principal, kid, expires = await self._decode(token)
        if not await self._active(principal.user_id, principal.token_id):
            raise InvalidToken("the access token was revoked, or its account is suspended")
        self._remember(token, (kid, expires + self._leeway, principal))
        return principal

    def _remember(self, token: str, entry: tuple[str, float, Principal]) -> None:
        if len(self._verified) >= self.MAX_VERIFIED_ENTRIES:
            now = time.time()
            self._verified = {k: v for k, v in self._verified.items() if v[1] > now}
            if len(self._verified) >= self.MAX_VERIFIED_ENTRIES:
                self._verified.clear()
        self._verified[token] = entry

    async def _decode(self, token: str) -> tuple[Principal, str, float]:
        """Check signature, algorithm, kid and claims; the principal, the kid and the expiry."""
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
        jti = claims.get("jti") if isinstance(claims.get("jti"), str) else None
        scope = claims.get("scope", "")
        client_id = claims.get("client_id")
        principal = Principal(
            user_id=sub,
            scopes=frozenset(scope.split()) if isinstance(scope, str) else frozenset(),
            token_id=jti,
            client_id=client_id if isinstance(client_id, str) else None,
        )
        return principal, kid, float(claims["exp"])

    async def _active(self, subject: str, jti: str | None) -> bool:
        now = time.monotonic()
        cached = self._status.get((subject, jti))
        if cached is not None and cached[0] > now:
            return cached[1]
        active = await (await self._get_users()).token_active(subject, jti)
        if len(self._status) >= self.MAX_STATUS_ENTRIES:
            self._status = {k: v for k, v in self._status.items() if v[0] > now}
            if len(self._status) >= self.MAX_STATUS_ENTRIES:
                self._status.clear()
        self._status[(subject, jti)] = (now + self._status_ttl, active)
        return active


def _bearer(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    # The first Authorization header, read from the scope (ASGI header names are lower case):
    # what ``connection.headers.get`` answers, without building a Headers object per request
    # (a plain loop: half the cost of ``next`` over a generator, measured in session 8).
    for name, value in connection.scope["headers"]:
        if name == b"authorization":
            header = value.decode("latin-1")
            break
    else:
        return None
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise InvalidToken("use the Authorization header as 'Bearer <access token>'")
    return token


_PRINCIPAL_KEY = "twitterclone.principal"


async def current_principal(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    """The caller of the request's bearer token (verified once per request), or None without one."""
    state = connection.scope.setdefault("state", {})
    cached = state.get(_PRINCIPAL_KEY)
    if isinstance(cached, Principal):
        return cached
    token = _bearer(connection)
    if token is None:
        return None
    verifier: TokenVerifier = connection.app.state.token_verifier
    principal = await verifier.verify(token)
    state[_PRINCIPAL_KEY] = principal
    return principal


def authority_check(connection: ASGIConnection[Any, Any, Any, Any]) -> Callable[[], Awaitable[bool]]:
    """For a long-lived response: a check, to repeat while it lasts, that its token still stands.

    It asks the verifier again, so it fails once the token expires, is revoked, its key is
    retired or its account suspended (within ``status_cache_s``). An error reaching the users
    module also fails it: a stream whose authority cannot be confirmed is closed.
    """
    token = _bearer(connection)
    verifier: TokenVerifier = connection.app.state.token_verifier

    async def still_authorised() -> bool:
        if token is None:
            return False
        try:
            await verifier.verify(token)
        except (DomainError, OSError, TimeoutError):
            return False
        return True

    return still_authorised


async def require_user(request: Request[Any, Any, Any]) -> Principal:
    """Dependency ``user``: the authenticated caller, or a 401 problem.

    A client-credentials token stands for an OAuth client, not for an account: routes that act
    as a user (posting, one's home timeline, following) refuse it with 403.
    """
    principal = await current_principal(request)
    if principal is None:
        raise InvalidToken("this route needs an access token (Authorization: Bearer …)")
    if not is_id(principal.user_id):
        raise UserTokenRequired(
            "this route acts as a user; a client-credentials token stands for a client, not an account"
        )
    return principal


async def optional_user(request: Request[Any, Any, Any]) -> Principal | None:
    """Dependency ``viewer``: the caller when a token is sent, else None (a bad token is 401)."""
    return await current_principal(request)


Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]


def requires(scope: str, *, first_party: bool = False) -> Guard:
    """A route guard: a token sent to this route must grant ``scope`` (else 403 insufficient-scope).

    Without a token the guard lets the request through: the ``user`` dependency answers 401 on
    routes that need a caller, and routes with an optional ``viewer`` serve anonymous callers.
    ``first_party`` also refuses tokens issued to OAuth clients (for admin and client registration).
    """

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = await current_principal(connection)
        if principal is None:
            return
        if not covers(principal.scopes, scope):
            raise InsufficientScope(f"this route needs a token with the {scope!r} scope")
        if first_party and principal.client_id is not None:
            raise FirstPartyOnly(
                "this route takes only first-party tokens, not those issued to an OAuth client"
            )

    guard.__name__ = f"requires_{scope}"
    return guard


#: Guards for the three scopes (reading; posting, liking and profile changes; the follow graph).
READ = requires("read")
WRITE = requires("write")
FOLLOW = requires("follow")


#: Register on the app: handlers then declare ``user: Principal`` or ``viewer: Principal | None``.
AUTH_DEPENDENCIES = {
    "user": Provide(require_user),
    "viewer": Provide(optional_user),
}
