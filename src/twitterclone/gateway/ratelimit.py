"""Rate limits at the gateway: which buckets a request is charged against, and the 429 answer.

Every /api and /oauth request is charged per client address and, with a valid access token,
per user. Some routes add stricter buckets, declared on the route handler itself
(``opt=limited(RateRule.LOGIN)``) and looked up from the handler the router matches, so no
spelling of a path can reach a handler without its rule: logging in (per address), registering,
token requests, posting and following (each with a burst budget and an hourly cap).

Logging in is also charged per target account, whatever the address. The account is the one the
handler parsed from the body: the handler calls ``charge_login_account`` with it before any
password is checked, so the throttle and the password check always read the same field of the
same parse, whatever Content-Type the client claimed, and a refused attempt costs no hash.

The buckets live in the process (monolith) or in Redis (split), see
``twitterclone.infra.ratelimit``. Responses of limited routes carry ``RateLimit-*`` headers for
the most constraining bucket; a refused request gets a 429 problem with ``Retry-After``.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import msgspec
from litestar import Litestar, Request
from litestar.exceptions import HTTPException, TooManyRequestsException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import ASGIApp, Receive, Scope, Send

from boundaries.users.dto import login_account
from twitterclone.gateway.problems import PROBLEM_BASE, PROBLEM_MEDIA_TYPE, Problem, edge_error_body
from twitterclone.infra.kernel import Kernel
from twitterclone.infra.ratelimit import Bucket, Budget, Decision, InProcessLimiter, RateLimiter, RedisLimiter
from twitterclone.settings import Settings

log = logging.getLogger("twitterclone.ratelimit")

#: Canonical paths under these prefixes are charged the per-address and per-user budgets.
LIMITED_PREFIXES = ("/api/", "/oauth/")
#: Where a handler's rule lives in its ``opt``.
RULE_OPT = "rate_rule"
#: Where the request's rate decisions are kept (scope state), so its answer reports the tightest.
_DECISIONS = "rate_decisions"
#: How many (bucket name, subject) buckets ``RatePolicy`` keeps made.
MAX_KEPT_BUCKETS = 10_000


class RateRule(enum.Enum):
    """The stricter budgets a route adds to the per-address and per-user ones."""

    #: Checks a password: per address here, per account through ``charge_login_account``.
    LOGIN = enum.auto()
    REGISTER = enum.auto()
    #: Issues tokens (refresh, OAuth token endpoint).
    TOKEN = enum.auto()
    #: Publishes something others see (tweets, replies, quotes, retweets): per user.
    POST = enum.auto()
    FOLLOW = enum.auto()


def limited(rule: RateRule) -> dict[str, Any]:
    """A route handler's ``opt=``: the rate rule the route is charged against."""
    return {RULE_OPT: rule}


def rule_of(handler: BaseRouteHandler | None) -> RateRule | None:
    """The rate rule a route handler declares, if any."""
    if handler is None:
        return None
    rule = handler.opt.get(RULE_OPT)
    return rule if isinstance(rule, RateRule) else None


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
        self.login_account = budget("rate_login_account")
        #: Each rule's buckets: (bucket name, charged per "address" or per "user", budget).
        self.rules: Mapping[RateRule, tuple[tuple[str, str, Budget], ...]] = {
            RateRule.LOGIN: (("login-addr", "address", budget("rate_login_address")),),
            RateRule.REGISTER: (("register-addr", "address", budget("rate_register_address")),),
            RateRule.TOKEN: (("token-addr", "address", budget("rate_token_address")),),
            RateRule.POST: (
                ("post", "user", budget("rate_post_user")),
                ("post-h", "user", budget("rate_post_hourly")),
            ),
            RateRule.FOLLOW: (
                ("follow", "user", budget("rate_follow_user")),
                ("follow-h", "user", budget("rate_follow_hourly")),
            ),
        }
        self.proxy_hops = settings.rate_trusted_proxy_hops
        #: The buckets of recent subjects, made once: (bucket name, subject) -> Bucket.
        self._made: dict[tuple[str, str], Bucket] = {}

    def buckets(self, rule: RateRule | None, address: str, user_id: str | None) -> list[Bucket]:
        """The buckets a request to a route with ``rule`` is charged against."""
        buckets = [self._bucket("addr", address, self.address)]
        if user_id is not None:
            buckets.append(self._bucket("user", user_id, self.user))
        for name, per, budget in self.rules.get(rule, ()) if rule is not None else ():
            subject = address if per == "address" else user_id
            if subject is not None:  # per-user rules apply to requests with a verified token
                buckets.append(self._bucket(name, subject, budget))
        return buckets

    def _bucket(self, name: str, subject: str, budget: Budget) -> Bucket:
        """The bucket ``name`` of ``subject``: a Bucket is a value (equal for equal fields), so
        one is kept per recent subject rather than made on every request (at most
        ``MAX_KEPT_BUCKETS``, then forgotten all at once)."""
        bucket = self._made.get((name, subject))
        if bucket is None:
            if len(self._made) >= MAX_KEPT_BUCKETS:
                self._made.clear()
            bucket = self._made[(name, subject)] = Bucket(name, subject, budget)
        return bucket

    def account_bucket(self, login: str) -> Bucket:
        """The per-account login bucket of the account ``login`` names (any spelling, any address)."""
        return Bucket("login-acct", account_key(login), self.login_account)

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
    """The limiter's key for the account a login names, hashed so logins (emails) are never stored.

    Which spellings name one account is the users boundary's rule (``login_account``), not
    the limiter's: a throttled account cannot be reached again by spelling it differently.
    """
    return hashlib.sha256(login_account(login).encode()).hexdigest()[:32]


class LoginThrottle:
    """The per-account login budget, charged by the handlers that check a password."""

    def __init__(self, limiter: RateLimiter, policy: RatePolicy) -> None:
        self._limiter = limiter
        self._policy = policy

    async def charge(self, scope: Scope, login: str) -> None:
        """Take one attempt from the account's budget; raise a 429 when it is spent."""
        decision = await self._limiter.hit([self._policy.account_bucket(login)])
        scope.setdefault("state", {}).setdefault(_DECISIONS, []).append(decision)
        if not decision.allowed:
            retry = _retry_after(decision)
            log.info("login throttled", extra={"path": scope["path"], "retry_after_s": retry})
            raise TooManyRequestsException(
                detail=f"too many requests; retry in {retry} s",
                headers=dict([("retry-after", str(retry)), *_headers(decision)]),
            )


async def charge_login_account(request: Request[Any, Any, Any], login: str) -> None:
    """Charge the per-account login budget for ``login`` (as the handler parsed it); 429 when spent.

    A handler that checks a password calls this first, so a refused attempt costs no hash.
    Does nothing when rate limiting is off.
    """
    throttle: LoginThrottle | None = getattr(request.app.state, "login_throttle", None)
    if throttle is not None:
        await throttle.charge(request.scope, login)


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


def _retry_after(decision: Decision) -> int:
    return max(1, math.ceil(decision.retry_after_s))


def _tightest(decisions: list[Decision]) -> Decision:
    """The decision the answer reports: a refusal, or else the bucket with the fewest tokens left."""
    return min(decisions, key=lambda d: (d.allowed, d.remaining, -d.reset_s))


#: What a person whose form was refused sees (the web client's routes, outside LIMITED_PREFIXES).
_HTML_429 = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    '<title>Slow down · twitterclone</title><link rel="stylesheet" href="/static/app.css"></head>'
    '<body><main id="main"><section class="card error-page"><h1>Slow down</h1>'
    "<p>Too many attempts in a short time; try again in {retry} s.</p>"
    '<p><a href="/">Go to the home page</a>.</p></section></main></body></html>'
)


async def _send_rate_limited(scope: Scope, send: Send, decision: Decision) -> None:
    retry = _retry_after(decision)
    log.info("rate limited", extra={"path": scope["path"], "retry_after_s": retry})
    if not scope["path"].startswith(LIMITED_PREFIXES):  # a web page's form: a page, not a problem
        page = _HTML_429.format(retry=retry).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"text/html; charset=utf-8"),
                    (b"content-length", str(len(page)).encode()),
                    (b"retry-after", str(retry).encode()),
                    (b"content-security-policy", b"default-src 'self'; frame-ancestors 'none'"),
                    *((k.encode(), v.encode()) for k, v in _headers(decision)),
                ],
            }
        )
        await send({"type": "http.response.body", "body": page, "more_body": False})
        return
    body = msgspec.json.encode(
        Problem(
            type=PROBLEM_BASE + "rate-limited",
            title="Too many requests",
            status=429,
            detail=f"too many requests; retry in {retry} s",
            instance=scope["path"],
            request_id=scope.get("state", {}).get("request_id"),
        )
    )
    content_type = PROBLEM_MEDIA_TYPE
    mastodon = edge_error_body(scope["path"], "Too many requests")  # Mastodon's {"error"} on its routes
    if mastodon is not None:
        body, content_type = mastodon
    raw = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(retry).encode()),
        *((k.encode(), v.encode()) for k, v in _headers(decision)),
    ]
    await send({"type": "http.response.start", "status": 429, "headers": raw})
    await send({"type": "http.response.body", "body": body, "more_body": False})


#: WebSocket close code for "try again later" (RFC 6455 registry: 1013).
WS_TRY_AGAIN_LATER = 1013


async def _refuse_websocket(scope: Scope, receive: Receive, send: Send, decision: Decision) -> None:
    """Refuse a WebSocket handshake past its budget: closed before it is accepted (the server
    answers the handshake with an HTTP error), with the wait in the close reason."""
    retry = _retry_after(decision)
    log.info("rate limited", extra={"path": scope["path"], "retry_after_s": retry})
    message = await receive()
    if message["type"] == "websocket.connect":
        await send(
            {
                "type": "websocket.close",
                "code": WS_TRY_AGAIN_LATER,
                "reason": f"rate limited; retry in {retry} s",
            }
        )


def route_finder(app: Litestar) -> Callable[[str, str], BaseRouteHandler | None]:
    """The handler the app's router answers ``method path`` with (None: 404 or 405).

    The router's own lookup (and its cache), so the limiter and the router cannot disagree on
    which route a path is.
    """

    def find(path: str, method: str) -> BaseRouteHandler | None:
        try:
            handler: BaseRouteHandler = app.asgi_router.handle_routing(path=path, method=method)[1]
        except HTTPException:
            return None
        return handler

    return find


def rate_limit_middleware(
    app: ASGIApp,
    *,
    limiter: RateLimiter,
    policy: RatePolicy,
    verifier: Callable[[], Any],
    route_of: Callable[[str, str], BaseRouteHandler | None],
    cookie_user: Callable[[Request[Any, Any, Any]], Awaitable[str | None]] | None = None,
) -> ASGIApp:
    """Wrap the gateway's ASGI handler (behind the edge, which made ``scope["path"]`` canonical).

    ``verifier()`` returns the app's TokenVerifier (or None); ``route_of(path, method)`` the
    handler the router will answer with, whose declared ``RateRule`` adds its buckets.
    Outside ``LIMITED_PREFIXES`` (the web client's forms) only POSTs to a handler that declares
    a rule are charged, per address and, with a session cookie (``cookie_user``), per user.
    """
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
        path = scope["path"]
        if scope["type"] == "websocket" and path.startswith(LIMITED_PREFIXES):  # type: ignore[comparison-overlap]
            # A WebSocket handshake is a request like any other (Mastodon's streaming socket
            # verifies a token and opens feeds): charged to the address (and the bearer's user).
            buckets = policy.buckets(None, policy.client_address(scope), await user_of(scope))
            decision = await limiter.hit(buckets)
            if not decision.allowed:
                await _refuse_websocket(scope, receive, send, decision)
                return
            await app(scope, receive, send)
            return
        if scope["type"] != "http":  # type: ignore[comparison-overlap]
            await app(scope, receive, send)
            return
        method = str(scope.get("method", "GET"))
        if path.startswith(LIMITED_PREFIXES):
            rule = rule_of(route_of(path, method))
            user_id = await user_of(scope)
        else:
            rule = rule_of(route_of(path, method)) if method == "POST" else None
            if rule is None:
                await app(scope, receive, send)
                return
            user_id = await cookie_user(Request(scope)) if cookie_user is not None else None
        buckets = policy.buckets(rule, policy.client_address(scope), user_id)
        decision = await limiter.hit(buckets)
        if not decision.allowed:
            await _send_rate_limited(scope, send, decision)
            return
        # The handler may charge more (a login's account) and add its decision here; the answer
        # reports the tightest (``rate_limit_headers``, set by the gateway's edge).
        scope.setdefault("state", {})[_DECISIONS] = [decision]
        await app(scope, receive, send)

    return middleware


def rate_limit_headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    """The ``RateLimit-*`` headers of a request's answer: its tightest bucket (none if uncharged).

    The gateway's edge sets them on the response (gateway/middleware.py), replacing any a
    handler's exception carried, so every answer of a charged request reports the same bucket.
    """
    decisions: list[Decision] | None = scope.get("state", {}).get(_DECISIONS)
    if not decisions:
        return []
    decision = decisions[0] if len(decisions) == 1 else _tightest(decisions)
    return [
        (b"ratelimit-limit", b"%d" % decision.limit),
        (b"ratelimit-remaining", b"%d" % decision.remaining),
        (b"ratelimit-reset", b"%d" % math.ceil(decision.reset_s)),
        (b"ratelimit-policy", decision.policy.encode()),
    ]


__all__ = [
    "LIMITED_PREFIXES",
    "LoginThrottle",
    "RatePolicy",
    "RateRule",
    "account_key",
    "build_limiter",
    "charge_login_account",
    "limited",
    "rate_limit_headers",
    "rate_limit_middleware",
    "route_finder",
    "rule_of",
]
