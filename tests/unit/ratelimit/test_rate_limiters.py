"""Token buckets: in-process and in Redis behave alike; Redis buckets are shared and expire."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from litestar.routes import HTTPRoute
from redis.asyncio import Redis

from tests.conftest import MONOLITH
from twitterclone.gateway import ratelimit as ratelimit_gateway
from twitterclone.gateway.app import create_app
from twitterclone.gateway.ratelimit import (
    RatePolicy,
    RateRule,
    account_key,
    build_limiter,
    rate_limit_headers,
    rule_of,
)
from twitterclone.infra.kernel import Kernel
from twitterclone.infra.ratelimit import Bucket, Budget, Decision, InProcessLimiter, RateLimiter, RedisLimiter
from twitterclone.manifest import load_manifest
from twitterclone.settings import Settings

REDIS_URL = "redis://127.0.0.1:6379/0"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture
async def prefix(redis: Redis) -> AsyncIterator[str]:
    """A key prefix of this test alone; its keys are deleted afterwards."""
    value = f"tc:test:rl:{secrets.token_hex(6)}:"
    yield value
    keys = [k async for k in redis.scan_iter(match=value + "*")]
    if keys:
        await redis.delete(*keys)


def test_budget_parse_accepts_units_and_names_a_bad_value() -> None:
    assert Budget.parse("30/60") == Budget(30, 60.0)
    assert Budget.parse("300/1h") == Budget(300, 3600.0)
    assert Budget.parse(" 5 / 2m ") == Budget(5, 120.0)
    assert Budget.parse("10/60").policy() == "10;w=60"
    for bad in ("", "ten/60", "10", "0/60", "10/0", "-1/60"):
        with pytest.raises(ValueError, match="budget"):
            Budget.parse(bad)
    with pytest.raises(ValueError, match="TWITTERCLONE_RATE_LOGIN_ACCOUNT"):
        RatePolicy(Settings(rate_login_account="lots"))


async def test_in_process_bucket_allows_a_burst_then_refills_at_its_rate() -> None:
    clock = FakeClock()
    limiter = InProcessLimiter(clock=clock)
    bucket = [Bucket("post", "u1", Budget(3, 30.0))]  # one token every 10 s
    decisions = [await limiter.hit(bucket) for _ in range(3)]
    assert all(d.allowed for d in decisions)
    assert [d.remaining for d in decisions] == [2, 1, 0]
    refused = await limiter.hit(bucket)
    assert not refused.allowed
    assert refused.retry_after_s == pytest.approx(10.0)
    assert refused.limit == 3
    assert refused.remaining == 0
    clock.now += 9.9
    assert not (await limiter.hit(bucket)).allowed
    clock.now += 0.2
    assert (await limiter.hit(bucket)).allowed
    clock.now += 1000  # refills to capacity, never beyond
    assert [(await limiter.hit(bucket)).allowed for _ in range(4)] == [True, True, True, False]


async def test_a_refusal_by_one_bucket_costs_the_others_nothing() -> None:
    clock = FakeClock()
    limiter = InProcessLimiter(clock=clock)
    wide = Bucket("addr", "10.0.0.1", Budget(100, 60.0))
    narrow = Bucket("login-acct", "alice", Budget(1, 60.0))
    assert (await limiter.hit([wide, narrow])).allowed
    for _ in range(5):
        refused = await limiter.hit([wide, narrow])
        assert not refused.allowed
        assert refused.limit == 1  # the headers describe the bucket that refused
    after = await limiter.hit([wide])
    assert after.remaining == 98  # only the one allowed request was charged


async def test_other_subjects_have_their_own_buckets() -> None:
    limiter = InProcessLimiter()
    budget = Budget(1, 60.0)
    assert (await limiter.hit([Bucket("login-acct", "alice", budget)])).allowed
    assert not (await limiter.hit([Bucket("login-acct", "alice", budget)])).allowed
    assert (await limiter.hit([Bucket("login-acct", "bob", budget)])).allowed
    assert (await limiter.hit([Bucket("register-addr", "alice", budget)])).allowed


async def test_in_process_memory_stays_bounded_under_a_flood_of_addresses() -> None:
    clock = FakeClock()
    limiter = InProcessLimiter(max_entries=1000, clock=clock)
    budget = Budget(10, 1.0)
    for i in range(5000):
        clock.now += 0.01
        await limiter.hit([Bucket("addr", f"10.0.{i // 256}.{i % 256}", budget)])
    assert len(limiter) <= 1001


async def test_redis_buckets_are_shared_between_processes(redis: Redis, prefix: str) -> None:
    other = Redis.from_url(REDIS_URL)  # a second process has its own connection
    try:
        first: RateLimiter = RedisLimiter(redis, prefix)
        second: RateLimiter = RedisLimiter(lambda: other, prefix)
        bucket = [Bucket("login-acct", "alice", Budget(4, 3600.0))]
        results = [await (first if i % 2 else second).hit(bucket) for i in range(6)]
        assert [r.allowed for r in results] == [True, True, True, True, False, False]
        assert [r.remaining for r in results[:4]] == [3, 2, 1, 0]
        assert results[4].retry_after_s == pytest.approx(900.0, rel=0.01)
        assert results[4].policy == "4;w=3600"
    finally:
        await other.aclose()


async def test_redis_refusal_is_all_or_nothing_and_keys_expire_when_full(redis: Redis, prefix: str) -> None:
    limiter = RedisLimiter(redis, prefix)
    wide = Bucket("addr", "10.0.0.1", Budget(100, 60.0))
    narrow = Bucket("login-acct", "bob", Budget(1, 2.0))
    assert (await limiter.hit([wide, narrow])).allowed
    assert not (await limiter.hit([wide, narrow])).allowed
    assert (await limiter.hit([wide])).remaining == 98
    ttl_ms = await redis.pttl(prefix + narrow.key)
    assert 0 < ttl_ms <= 2000  # gone once the bucket would be full again
    wide_ttl = await redis.pttl(prefix + wide.key)
    assert 0 < wide_ttl <= 60_000 * 2 / 100 + 50
    keys = sorted([k.decode() async for k in redis.scan_iter(match=prefix + "*")])
    assert keys == sorted([prefix + wide.key, prefix + narrow.key])


async def test_redis_bucket_refills_with_time(redis: Redis, prefix: str) -> None:
    limiter = RedisLimiter(redis, prefix)
    bucket = [Bucket("post", "u1", Budget(2, 0.4))]  # one token every 200 ms
    assert (await limiter.hit(bucket)).allowed
    assert (await limiter.hit(bucket)).allowed
    refused = await limiter.hit(bucket)
    assert not refused.allowed
    assert 0 < refused.retry_after_s <= 0.2
    await asyncio.sleep(0.25)
    assert (await limiter.hit(bucket)).allowed


async def test_redis_outage_limits_in_this_process_until_redis_is_back(redis: Redis, prefix: str) -> None:
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    now = [0.0]
    limiter = RedisLimiter(dead, prefix, clock=lambda: now[0])
    bucket = [Bucket("login", "10.0.0.9", Budget(2, 60.0))]
    try:
        assert (await limiter.hit(bucket)).allowed  # neither closed: requests still pass ...
        assert limiter.degraded
        assert (await limiter.hit(bucket)).allowed
        started = time.perf_counter()
        refused = await limiter.hit(bucket)  # ... nor open: the budget holds in this process
        assert not refused.allowed
        assert refused.retry_after_s > 0
        assert time.perf_counter() - started < 0.05  # a dead Redis is not asked on every request
    finally:
        await dead.aclose()
    limiter._redis = redis  # Redis is back (the same client reconnecting, in production)
    now[0] += 1.5
    assert (await limiter.hit(bucket)).allowed  # Redis again: its bucket starts full
    assert not limiter.degraded


def test_the_manifest_decides_the_backend() -> None:
    settings = Settings()
    monolith = Kernel(settings, {})
    split = Kernel(settings, {}, redis_url=REDIS_URL, key_prefix="tc:split:")
    assert isinstance(build_limiter(settings, monolith), InProcessLimiter)
    limiter = build_limiter(settings, split)
    assert isinstance(limiter, RedisLimiter)


def test_policy_charges_a_routes_rule_on_top_of_the_defaults() -> None:
    policy = RatePolicy(Settings())

    def rules(rule: RateRule | None, user: str | None = "u1") -> set[str]:
        return {b.rule for b in policy.buckets(rule, "10.0.0.1", user)}

    assert rules(None) == {"addr", "user"}
    assert rules(None, user=None) == {"addr"}
    assert rules(RateRule.LOGIN, None) == {"addr", "login-addr"}
    assert rules(RateRule.REGISTER, None) == {"addr", "register-addr"}
    assert rules(RateRule.TOKEN, None) == {"addr", "token-addr"}
    assert rules(RateRule.POST) == {"addr", "user", "post", "post-h"}
    assert rules(RateRule.FOLLOW) == {"addr", "user", "follow", "follow-h"}
    # Per-user rules need a verified token; without one the route refuses the request anyway.
    assert rules(RateRule.POST, None) == {"addr"}
    assert policy.account_bucket("ALICE") == policy.account_bucket("@alice")


def test_policy_keeps_made_buckets_bounded_and_equal_to_new_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ratelimit_gateway, "MAX_KEPT_BUCKETS", 4)
    policy = RatePolicy(Settings())
    first = policy.buckets(RateRule.POST, "10.0.0.1", "u1")
    assert first == [
        Bucket("addr", "10.0.0.1", policy.address),
        Bucket("user", "u1", policy.user),
        Bucket("post", "u1", policy.rules[RateRule.POST][0][2]),
        Bucket("post-h", "u1", policy.rules[RateRule.POST][1][2]),
    ]
    assert [b.key for b in first] == ["addr:10.0.0.1", "user:u1", "post:u1", "post-h:u1"]
    for n in range(50):  # a flood of addresses: the kept buckets never pass the bound
        policy.buckets(None, f"10.0.1.{n}", None)
        assert len(policy._made) <= 4
    assert policy.buckets(RateRule.POST, "10.0.0.1", "u1") == first


def test_rate_limit_headers_report_the_tightest_decision() -> None:
    loose = Decision(allowed=True, retry_after_s=0.0, limit=100, remaining=90, reset_s=5.2, policy="100;w=60")
    tight = Decision(allowed=True, retry_after_s=0.0, limit=5, remaining=1, reset_s=47.01, policy="5;w=60")
    assert rate_limit_headers({"state": {}}) == []  # type: ignore[arg-type]
    assert rate_limit_headers({"state": {"rate_decisions": [loose, tight]}}) == [  # type: ignore[arg-type]
        (b"ratelimit-limit", b"5"),
        (b"ratelimit-remaining", b"1"),
        (b"ratelimit-reset", b"48"),
        (b"ratelimit-policy", b"5;w=60"),
    ]
    assert rate_limit_headers({"state": {"rate_decisions": [loose]}})[2] == (b"ratelimit-reset", b"6")  # type: ignore[arg-type]
    assert Budget(30, 90.5).policy() == "30;w=91"


#: The routes with a stricter rule, as SECURITY.md's table lists them; every other route has none.
RULED_ROUTES = {
    ("POST", "/api/auth/login"): RateRule.LOGIN,
    ("POST", "/api/auth/password"): RateRule.LOGIN,
    ("POST", "/oauth/authorize"): RateRule.LOGIN,
    ("POST", "/api/auth/register"): RateRule.REGISTER,
    ("POST", "/api/auth/refresh"): RateRule.TOKEN,
    ("POST", "/oauth/token"): RateRule.TOKEN,
    ("POST", "/api/tweets"): RateRule.POST,
    ("PUT", "/api/tweets/{tweet_id:str}/retweet"): RateRule.POST,
    ("PUT", "/api/users/me/following/{user_id:str}"): RateRule.FOLLOW,
    # The web client's forms: the same rules as the API routes they stand beside.
    ("POST", "/signin"): RateRule.LOGIN,
    ("POST", "/settings/password"): RateRule.LOGIN,
    ("POST", "/signup"): RateRule.REGISTER,
    ("POST", "/compose"): RateRule.POST,
    ("POST", "/tweets/{tweet_id:str}/retweet"): RateRule.POST,
    ("POST", "/users/{user_id:str}/follow"): RateRule.FOLLOW,
    # The Mastodon client API: the same budgets for the same acts.
    ("POST", "/api/v1/accounts"): RateRule.REGISTER,
    ("POST", "/api/v1/apps"): RateRule.REGISTER,
    ("POST", "/api/v1/statuses"): RateRule.POST,
    ("POST", "/api/v1/statuses/{status_id:str}/reblog"): RateRule.POST,
    ("POST", "/api/v1/accounts/{account_id:str}/follow"): RateRule.FOLLOW,
}


def test_rules_are_declared_on_exactly_the_routes_the_policy_names(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=str(tmp_path), manifest=str(MONOLITH)), load_manifest(MONOLITH))
    declared = {
        (method, route.path): rule_of(handler)
        for route in app.routes
        if isinstance(route, HTTPRoute)
        for handler in route.route_handlers
        for method in handler.http_methods
        if rule_of(handler) is not None
    }
    assert declared == RULED_ROUTES


def test_client_address_trusts_forwarded_for_only_behind_configured_proxies() -> None:
    scope = {"client": ("10.0.0.9", 5000), "headers": [(b"x-forwarded-for", b"1.2.3.4, 203.0.113.7")]}
    assert RatePolicy(Settings()).client_address(scope) == "10.0.0.9"  # type: ignore[arg-type]
    assert RatePolicy(Settings(rate_trusted_proxy_hops=1)).client_address(scope) == "203.0.113.7"  # type: ignore[arg-type]


def test_account_key_is_the_same_for_every_spelling_of_an_account() -> None:
    same = {account_key(s) for s in ("alice", "ALICE", " Alice ", "@alice", "\uff41\uff4c\uff49\uff43\uff45")}
    assert len(same) == 1
    assert account_key("alice") != account_key("alice2")
    assert "alice" not in account_key("alice")
