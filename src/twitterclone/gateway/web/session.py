"""The web client's first-party session: a cookie naming a server-side record of a token pair.

Signing in asks the users module for a token pair (``authenticate``), exactly as
``POST /api/auth/login`` does, so a web session *is* a refresh-token family: signing out revokes
it (``logout``), a suspension or a revoked family ends it, and every page verifies the access
token with the gateway's ``TokenVerifier`` like any API call. The browser holds only a random
session id in an HttpOnly, SameSite=Lax cookie (Secure over TLS); the record lives in the
gateway's store (Redis when the manifest has it, so every gateway replica sees it; else this
process's memory) under a hash of that id. Signing in always makes a new id (no fixation).

An access token about to expire is refreshed under a per-session lock, so the requests a page
makes at once (a page, its live stream, an infinite-scroll fetch) rotate the refresh token once:
a second rotation of the same token would be reuse, which revokes the family.

Every state-changing form carries a CSRF token: the session's own (a random secret stored in its
record), or, before signing in, a double-submit cookie's. ``check_csrf`` compares in constant time.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import time
from typing import Any

import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.stores.base import Store
from litestar.stores.memory import MemoryStore
from litestar.stores.redis import RedisStore

from boundaries._kernel.errors import DomainError, Forbidden
from boundaries.users.dto import TokenPair
from boundaries.users.errors import InvalidRefreshToken
from boundaries.users.port import UsersPort
from twitterclone.gateway.auth import Principal, TokenVerifier

log = logging.getLogger("twitterclone.web")

SESSION_COOKIE = "tc_session"
#: The double-submit CSRF cookie of a visitor who has not signed in.
ANON_CSRF_COOKIE = "tc_csrf"
#: The form field and the header (HTMX requests) that carry the CSRF token.
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
#: Refresh the access token this long before it expires.
REFRESH_MARGIN_S = 30.0
SESSION_STATE_KEY = "twitterclone.web_session"


class CsrfRefused(Forbidden):
    """A state-changing form came without the CSRF token of its session (403)."""

    code = "csrf-refused"


class SessionRecord(msgspec.Struct, kw_only=True):
    """What the server keeps for one signed-in browser."""

    user_id: str
    handle: str
    access_token: str
    refresh_token: str
    access_expires_at: float
    csrf: str


class WebSession(msgspec.Struct, frozen=True, kw_only=True):
    """The signed-in caller of a web request."""

    sid: str
    user_id: str
    handle: str
    csrf: str
    principal: Principal


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(SessionRecord)


class SessionStore:
    """Session records by (hashed) session id, in a Litestar store, with a lock per session."""

    def __init__(self, store: Store, ttl_s: int) -> None:
        self._store = store
        self.ttl_s = ttl_s
        self._locks: dict[str, asyncio.Lock] = {}

    @staticmethod
    def _key(sid: str) -> str:
        return hashlib.sha256(sid.encode()).hexdigest()

    async def get(self, sid: str) -> SessionRecord | None:
        raw = await self._store.get(self._key(sid))
        if raw is None:
            return None
        try:
            return _decoder.decode(raw)
        except msgspec.DecodeError:
            return None

    async def put(self, sid: str, record: SessionRecord) -> None:
        await self._store.set(self._key(sid), _encoder.encode(record), expires_in=self.ttl_s)

    async def delete(self, sid: str) -> None:
        await self._store.delete(self._key(sid))

    def lock(self, sid: str) -> asyncio.Lock:
        if len(self._locks) > 10_000:  # locks of idle sessions: drop those nobody holds
            self._locks = {k: v for k, v in self._locks.items() if v.locked()}
        return self._locks.setdefault(sid, asyncio.Lock())


def build_session_store(redis: Any | None, key_prefix: str, ttl_s: int) -> SessionStore:
    """Redis when the manifest has it (shared by every gateway replica), else this process's memory."""
    store: Store = (
        RedisStore(redis, namespace=key_prefix + "web-session") if redis is not None else MemoryStore()
    )
    return SessionStore(store, ttl_s)


def new_record(pair: TokenPair, handle: str) -> SessionRecord:
    return SessionRecord(
        user_id=pair.user_id,
        handle=handle,
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        access_expires_at=time.time() + pair.expires_in,
        csrf=secrets.token_urlsafe(32),
    )


def new_sid() -> str:
    return secrets.token_urlsafe(32)


def _store(connection: ASGIConnection[Any, Any, Any, Any]) -> SessionStore:
    store: SessionStore = connection.app.state.web_sessions
    return store


async def _users(connection: ASGIConnection[Any, Any, Any, Any]) -> UsersPort:
    users: UsersPort = await connection.app.state.dishka_container.get(UsersPort)
    return users


async def _refreshed(
    connection: ASGIConnection[Any, Any, Any, Any], sid: str, record: SessionRecord
) -> SessionRecord | None:
    """The record with a fresh access token, or None when its family no longer stands."""
    store = _store(connection)
    async with store.lock(sid):
        current = await store.get(sid)
        if current is None:
            return None
        if current.access_expires_at - REFRESH_MARGIN_S > time.time() and (
            current.access_token != record.access_token
        ):
            return current  # another request of this session refreshed it meanwhile
        try:
            pair = await (await _users(connection)).refresh(current.refresh_token)
        except InvalidRefreshToken:
            await store.delete(sid)
            return None
        current.access_token = pair.access_token
        current.refresh_token = pair.refresh_token
        current.access_expires_at = time.time() + pair.expires_in
        await store.put(sid, current)
        return current


async def current_session(connection: ASGIConnection[Any, Any, Any, Any]) -> WebSession | None:
    """The request's signed-in session (resolved once per request), or None."""
    state = connection.scope.setdefault("state", {})
    if SESSION_STATE_KEY in state:
        cached: WebSession | None = state[SESSION_STATE_KEY]
        return cached
    session = await _resolve(connection)
    state[SESSION_STATE_KEY] = session
    return session


async def _resolve(connection: ASGIConnection[Any, Any, Any, Any]) -> WebSession | None:
    sid = connection.cookies.get(SESSION_COOKIE)
    if not sid or len(sid) > 100:
        return None
    store = _store(connection)
    record = await store.get(sid)
    if record is None:
        return None
    verifier: TokenVerifier = connection.app.state.token_verifier
    for attempt in range(2):
        if attempt or record.access_expires_at - REFRESH_MARGIN_S <= time.time():
            refreshed = await _refreshed(connection, sid, record)
            if refreshed is None:
                return None
            record = refreshed
        try:
            principal = await verifier.verify(record.access_token)
        except DomainError:
            if attempt:  # a fresh token refused: the account is suspended or the token revoked
                await store.delete(sid)
                return None
            continue
        return WebSession(
            sid=sid, user_id=record.user_id, handle=record.handle, csrf=record.csrf, principal=principal
        )
    return None


async def session_user_id(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """Only the user id a session cookie names (no verification): which rate bucket to charge."""
    sid = connection.cookies.get(SESSION_COOKIE)
    if not sid or len(sid) > 100 or getattr(connection.app.state, "web_sessions", None) is None:
        return None
    record = await _store(connection).get(sid)
    return record.user_id if record else None


def csrf_token(request: Request[Any, Any, Any], session: WebSession | None) -> tuple[str, Cookie | None]:
    """The token forms of this page carry, and the double-submit cookie to set when it is new."""
    if session is not None:
        return session.csrf, None
    existing = request.cookies.get(ANON_CSRF_COOKIE)
    if existing and 20 <= len(existing) <= 100:
        return existing, None
    token = secrets.token_urlsafe(32)
    return token, cookie(request, ANON_CSRF_COOKIE, token, max_age=None)


def check_csrf(request: Request[Any, Any, Any], session: WebSession | None, sent: str | None) -> None:
    """Raise CsrfRefused unless ``sent`` (form field, else header) is the token of this session."""
    expected = session.csrf if session is not None else request.cookies.get(ANON_CSRF_COOKIE)
    given = sent or request.headers.get(CSRF_HEADER)
    if not expected or not given or not hmac.compare_digest(expected.encode(), given.encode()):
        raise CsrfRefused("this form has expired or did not come from this site; reload the page and retry")


def is_tls(request: Request[Any, Any, Any]) -> bool:
    return request.url.scheme == "https"


def cookie(request: Request[Any, Any, Any], name: str, value: str, *, max_age: int | None) -> Cookie:
    """A first-party cookie: HttpOnly, SameSite=Lax, Secure when the page came over TLS."""
    return Cookie(
        key=name,
        value=value,
        path="/",
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=is_tls(request),
    )


def expired_cookie(request: Request[Any, Any, Any], name: str) -> Cookie:
    return Cookie(
        key=name, value="", path="/", max_age=0, httponly=True, samesite="lax", secure=is_tls(request)
    )


async def sign_in(request: Request[Any, Any, Any], pair: TokenPair, handle: str) -> list[Cookie]:
    """Store a new session for ``pair`` under a new id (ending any old one); the cookies to set."""
    store = _store(request)
    old = request.cookies.get(SESSION_COOKIE)
    if old and len(old) <= 100:
        await _end(request, old)
    sid = new_sid()
    await store.put(sid, new_record(pair, handle))
    request.scope.setdefault("state", {}).pop(SESSION_STATE_KEY, None)
    return [
        cookie(request, SESSION_COOKIE, sid, max_age=store.ttl_s),
        expired_cookie(request, ANON_CSRF_COOKIE),
    ]


async def _end(request: Request[Any, Any, Any], sid: str) -> None:
    store = _store(request)
    record = await store.get(sid)
    await store.delete(sid)
    if record is not None:
        try:
            await (await _users(request)).logout(record.refresh_token)
        except DomainError:
            log.warning("could not revoke the token family of a web session being ended")


async def sign_out(request: Request[Any, Any, Any]) -> list[Cookie]:
    """End the request's session and revoke its token family; the cookie that clears it."""
    sid = request.cookies.get(SESSION_COOKIE)
    if sid and len(sid) <= 100:
        await _end(request, sid)
    return [expired_cookie(request, SESSION_COOKIE)]
