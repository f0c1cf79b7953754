"""Rate limits at the gateway: which buckets a request is charged against, and the 429 answer.

Every /api and /oauth request is charged per client address and, with a valid access token,
per user. Some routes add stricter buckets: logging in (per address, and per target account
whatever the address), registering, token requests, posting and following (each with a burst
budget and an hourly cap). The buckets live in the process (monolith) or in Redis (split), see
``twitterclone.infra.ratelimit``. Responses of limited routes carry ``RateLimit-*`` headers;
a refused request gets a 429 problem with ``Retry-After``.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
import unicodedata
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import msgspec
from litestar.datastructures import MutableScopeHeaders
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send

from twitterclone.gateway.problems import PROBLEM_BASE, PROBLEM_MEDIA_TYPE, Problem
from twitterclone.infra.kernel import Kernel
from twitterclone.infra.ratelimit import Bucket, Budget, Decision, InProcessLimiter, RateLimiter, RedisLimiter
from twitterclone.settings import Settings

log = logging.getLogger("twitterclone.ratelimit")

LOGIN_PATH = "/api/auth/login"
#: Routes that check a password, and the body field naming the account (JSON or form).
PASSWORD_FIELDS = {LOGIN_PATH: "login", "/oauth/authorize": "login", "/oauth/token": "username"}
REGISTER_PATH = "/api/auth/register"
TOKEN_PATHS = frozenset({"/api/auth/refresh", "/oauth/token", "/api/oauth/token"})
POST_PATH = "/api/tweets"
FOLLOW_PREFIX = "/api/users/me/following/"
LIMITED_PREFIXES = ("/api/", "/oauth/")


class RatePolicy:
    """The budgets of the settings, and which of them one request is charged against."""

    def __init__(self, settings: Settings) -> None:
        def budget(name: str) -> Budget:
            value = getattr(settings, name)
            try:
                return Budget.parse(value)
            except ValueError as exc:
                raise ValueError(f"TWITTERCLONE_{name.upper()}: {exc}") from exc

        self.address = budget("rate_address")
        self.user = budget("rate_user")
        self.login_address = budget("rate_login_address")
        self.login_account = budget("rate_login_account")
        self.register_address = budget("rate_register_address")
        self.token_address = budget("rate_token_address")
        self.post_user = budget("rate_post_user")
        self.post_hourly = budget("rate_post_hourly")
        self.follow_user = budget("rate_follow_user")
        self.follow_hourly = budget("rate_follow_hourly")
        self.proxy_hops = settings.rate_trusted_proxy_hops

    def buckets(
        self, method: str, path: str, address: str, user_id: str | None, account: str | None = None
    ) -> list[Bucket]:
        """The buckets a request is charged against (``path`` without a trailing slash)."""
        buckets = [Bucket("addr", address, self.address)]
        if user_id is not None:
            buckets.append(Bucket("user", user_id, self.user))
        if method == "POST":
            if account is not None:
                buckets.append(Bucket("login-acct", account, self.login_account))
            if path == LOGIN_PATH or path == "/oauth/authorize":
                buckets.append(Bucket("login-addr", address, self.login_address))
            elif path == REGISTER_PATH:
                buckets.append(Bucket("register-addr", address, self.register_address))
            elif path in TOKEN_PATHS:
                buckets.append(Bucket("token-addr", address, self.token_address))
            elif path == POST_PATH and user_id is not None:
                buckets += [
                    Bucket("post", user_id, self.post_user),
                    Bucket("post-h", user_id, self.post_hourly),
                ]
        elif method == "PUT" and user_id is not None:
            if path.startswith(FOLLOW_PREFIX):
                buckets += [
                    Bucket("follow", user_id, self.follow_user),
                    Bucket("follow-h", user_id, self.follow_hourly),
                ]
            elif path.startswith("/api/tweets/") and path.endswith("/retweet"):
                buckets += [
                    Bucket("post", user_id, self.post_user),
                    Bucket("post-h", user_id, self.post_hourly),
                ]
        return buckets

    def client_address(self, scope: Scope) -> str:
        """The caller's address: the peer, or the entry a trusted proxy added to X-Forwarded-For."""
        if self.proxy_hops > 0:
            for name, value in scope["headers"]:
                if name == b"x-forwarded-for":
                    hops = [h.strip() for h in value.decode("latin-1").split(",") if h.strip()]
                    if len(hops) >= self.proxy_hops:
                        return hops[-self.proxy_hops]
                    break
        client = scope.get("client")
        return client[0] if client else "unknown"


def account_key(login: str) -> str:
    """The same account whatever the spelling (case, full-width forms, spaces), hashed.

    Mirrors the users module's normalisation (NFKC, then casefold) so that a throttled
    account cannot be reached again by spelling its handle differently; hashed so that
    logins (emails) are never stored in the limiter.
    """
    normal = unicodedata.normalize("NFKC", login).strip().casefold().lstrip("@")
    return hashlib.sha256(normal.encode()).hexdigest()[:32]


def build_limiter(settings: Settings, kernel: Kernel) -> RateLimiter:
    """Redis buckets when the manifest has [redis] (shared by every process), else in-process."""
    if kernel.has_redis:
        return RedisLimiter(lambda: kernel.redis, kernel.key_prefix + "rl:")
    return InProcessLimiter()


class _IdentityCache:
    """Access token -> user id for recently verified tokens, so the hot path is a dict lookup.

    Only used to pick the user's bucket; the route's own authentication still decides access.
    """

    def __init__(self, ttl_s: float = 60.0, max_entries: int = 10_000) -> None:
        self._entries: dict[str, tuple[str, float]] = {}
        self._ttl = ttl_s
        self._max = max_entries

    def get(self, token: str, now: float) -> str | None:
        entry = self._entries.get(token)
        if entry is None or entry[1] < now:
            return None
        return entry[0]

    def put(self, token: str, user_id: str, now: float) -> None:
        if len(self._entries) >= self._max:
            self._entries.clear()
        self._entries[token] = (user_id, now + self._ttl)


def _headers(decision: Decision) -> list[tuple[str, str]]:
    return [
        ("ratelimit-limit", str(decision.limit)),
        ("ratelimit-remaining", str(decision.remaining)),
        ("ratelimit-reset", str(math.ceil(decision.reset_s))),
        ("ratelimit-policy", decision.policy),
    ]


async def _send_problem(
    scope: Scope, send: Send, status: int, code: str, title: str, detail: str, headers: list[tuple[str, str]]
) -> None:
    body = msgspec.json.encode(
        Problem(
            type=PROBLEM_BASE + code,
            title=title,
            status=status,
            detail=detail,
            instance=scope["path"],
            request_id=scope.get("state", {}).get("request_id"),
        )
    )
    raw = [
        (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
        *((k.encode(), v.encode()) for k, v in headers),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body, "more_body": False})


class _TooLarge(Exception):
    pass


async def _read_body(receive: Receive, limit: int) -> tuple[bytes, bool]:
    """The whole body (up to ``limit`` bytes), and whether the client disconnected meanwhile."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message: dict[str, Any] = dict(await receive())
        if message["type"] == "http.disconnect":
            return b"".join(chunks), True
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), False


def _account_of(body: bytes, field: str, scope: Scope) -> str | None:
    """The account a password request names (JSON or form body), or None."""
    content_type = b""
    for name, value in scope["headers"]:
        if name == b"content-type":
            content_type = value.lower()
            break
    login: object = None
    if content_type.startswith(b"application/x-www-form-urlencoded"):
        values = parse_qs(body.decode("latin-1"), max_num_fields=50).get(field)
        login = values[0] if values else None
    else:
        try:
            data = msgspec.json.decode(body)
        except (msgspec.DecodeError, RecursionError):  # the route answers 400 for a bad body
            return None
        login = data.get(field) if isinstance(data, dict) else None
    return login if isinstance(login, str) and 0 < len(login) <= 254 else None


def rate_limit_middleware(
    app: ASGIApp,
    *,
    limiter: RateLimiter,
    policy: RatePolicy,
    verifier: Callable[[], Any],
    max_body_bytes: int,
) -> ASGIApp:
    """Wrap the gateway's ASGI handler; ``verifier()`` returns the app's TokenVerifier (or None)."""
    identities = _IdentityCache()

    async def user_of(scope: Scope) -> str | None:
        header = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                header = value
                break
        if header is None or header[:7].lower() != b"bearer ":
            return None
        token = header[7:].strip().decode("latin-1")
        now = time.monotonic()
        user_id = identities.get(token, now)
        if user_id is not None:
            return user_id
        token_verifier = verifier()
        if token_verifier is None or not token:
            return None
        try:
            principal = await token_verifier.verify(token)
        except Exception:
            return None
        user_id = str(principal.user_id)
        identities.put(token, user_id, now)
        return user_id

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(LIMITED_PREFIXES):  # type: ignore[comparison-overlap]
            await app(scope, receive, send)
            return
        method = str(scope.get("method", "GET"))
        path = scope["path"].rstrip("/") or "/"
        address = policy.client_address(scope)
        account = None
        field = PASSWORD_FIELDS.get(path) if method == "POST" else None
        if field is not None:
            # The account's bucket needs the login from the body: read it here, replay it below.
            try:
                body, disconnected = await _read_body(receive, max_body_bytes)
            except _TooLarge:
                await _send_problem(
                    scope,
                    send,
                    413,
                    "payload-too-large",
                    "Payload too large",
                    "the request body is too large",
                    [],
                )
                return
            account = _account_of(body, field, scope)
            receive = _replay(body, disconnected, receive)
        user_id = await user_of(scope)
        decision = await limiter.hit(
            policy.buckets(method, path, address, user_id, account_key(account) if account else None)
        )
        headers = _headers(decision)
        if not decision.allowed:
            retry = max(1, math.ceil(decision.retry_after_s))
            log.info("rate limited", extra={"path": path, "retry_after_s": retry})
            await _send_problem(
                scope,
                send,
                429,
                "rate-limited",
                "Too many requests",
                f"too many requests; retry in {retry} s",
                [("retry-after", str(retry)), *headers],
            )
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                mutable = MutableScopeHeaders.from_message(message)
                for name, value in headers:
                    mutable[name] = value
            await send(message)

        await app(scope, receive, send_with_headers)

    return middleware


def _replay(body: bytes, disconnected: bool, receive: Receive) -> Receive:
    sent = False

    async def replay() -> ReceiveMessage:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        if disconnected:
            return {"type": "http.disconnect"}
        return await receive()

    return replay


__all__ = ["RatePolicy", "account_key", "build_limiter", "rate_limit_middleware"]
