"""Token-bucket rate limiters: in-process for the monolith, Redis (one Lua call) when split.

A request is charged against several buckets at once (per address, per user, per rule); it
passes only when every bucket has a token, and then takes one from each (all or nothing), so
a refused request costs nothing. A bucket holds up to ``capacity`` tokens and refills
completely in ``period_s`` seconds (``capacity / period_s`` tokens a second).
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("twitterclone.ratelimit")

_BUDGET = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*$")
_UNIT_S = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True, slots=True)
class Budget:
    """At most ``capacity`` requests at once, refilled completely in ``period_s`` seconds."""

    capacity: int
    period_s: float
    #: Tokens added per second (worked out once: every charge reads it).
    rate: float = field(init=False, repr=False, compare=False)
    #: The IETF ``RateLimit-Policy`` item, ``30;w=60`` (every answer of a charged request has it).
    policy_item: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.capacity < 1 or self.period_s <= 0:
            raise ValueError("a budget needs a capacity of at least 1 and a positive period")
        object.__setattr__(self, "rate", self.capacity / self.period_s)
        object.__setattr__(self, "policy_item", f"{self.capacity};w={math.ceil(self.period_s)}")

    @classmethod
    def parse(cls, text: str) -> Budget:
        """Read ``"<capacity>/<period>"`` with an optional unit (s, m, h): ``"30/60"``, ``"300/1h"``."""
        match = _BUDGET.match(text)
        if match is None:
            raise ValueError(f"a rate budget looks like '30/60' (30 per 60 seconds), not {text!r}")
        capacity, period, unit = match.groups()
        return cls(int(capacity), float(period) * _UNIT_S[unit])

    def policy(self) -> str:
        """The budget as an IETF ``RateLimit-Policy`` item: ``30;w=60``."""
        return self.policy_item


@dataclass(frozen=True, slots=True)
class Bucket:
    """One budget applied to one subject (an address, a user id, an account) under a rule."""

    rule: str
    subject: str
    budget: Budget
    #: ``<rule>:<subject>``, the bucket's name in the limiter's store.
    key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", f"{self.rule}:{self.subject}")


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one charge, and what the RateLimit headers tell the client.

    ``limit``/``remaining``/``reset_s`` describe the most constraining bucket: the one that
    refused (longest wait), or else the one with the fewest tokens left.
    """

    allowed: bool
    retry_after_s: float
    limit: int
    remaining: int
    reset_s: float
    policy: str


ALLOW_ALL = Decision(allowed=True, retry_after_s=0.0, limit=0, remaining=0, reset_s=0.0, policy="")


class RateLimiter(Protocol):
    """Charges one request against buckets; all of them or none."""

    async def hit(self, buckets: Sequence[Bucket], cost: int = 1) -> Decision:
        """Take ``cost`` tokens from every bucket if each has them; say when to retry if not."""
        ...


def _decide(
    buckets: Sequence[Bucket], levels: Sequence[float], cost: int
) -> tuple[bool, float, int, float, Bucket, float]:
    """Shared arithmetic: (allowed, retry_after_s, index of the binding bucket, ...)."""
    allowed = all(level >= cost for level in levels)
    retry = 0.0
    worst = 0
    if not allowed:
        for i, (bucket, level) in enumerate(zip(buckets, levels, strict=True)):
            wait = (cost - level) / bucket.budget.rate if level < cost else 0.0
            if wait > retry:
                retry, worst = wait, i
    else:
        worst = levels.index(min(levels))  # the first of the fullest-drained buckets
    bucket = buckets[worst]
    left = levels[worst] - (cost if allowed else 0)
    return allowed, retry, worst, left, bucket, (bucket.budget.capacity - left) / bucket.budget.rate


def _decision(allowed: bool, retry: float, left: float, bucket: Bucket, reset: float) -> Decision:
    return Decision(
        allowed=allowed,
        retry_after_s=retry,
        limit=bucket.budget.capacity,
        remaining=max(0, math.floor(left)),
        reset_s=max(0.0, reset),
        policy=bucket.budget.policy_item,
    )


class InProcessLimiter:
    """Buckets in a dict of this process (the monolith): a lookup and a store per bucket.

    Full buckets carry no information, so they are swept when the dict grows past
    ``max_entries`` (a flood of distinct addresses cannot grow memory without bound).
    """

    def __init__(self, *, max_entries: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._state: dict[str, tuple[float, float]] = {}
        self._max_entries = max_entries
        self._clock = clock

    def __len__(self) -> int:
        return len(self._state)

    async def hit(self, buckets: Sequence[Bucket], cost: int = 1) -> Decision:
        if not buckets:
            return ALLOW_ALL
        now = self._clock()
        state = self._state
        levels: list[float] = []
        for bucket in buckets:
            entry = state.get(bucket.key)
            budget = bucket.budget
            if entry is None:
                levels.append(float(budget.capacity))
            else:
                tokens, at = entry
                levels.append(min(float(budget.capacity), tokens + (now - at) * budget.rate))
        allowed, retry, _, left, worst, reset = _decide(buckets, levels, cost)
        if allowed:
            for bucket, level in zip(buckets, levels, strict=True):
                state[bucket.key] = (level - cost, now)
            if len(state) > self._max_entries:
                self._sweep(now, buckets)
        return _decision(allowed, retry, left, worst, reset)

    def _sweep(self, now: float, recent: Sequence[Bucket]) -> None:
        # Without the budget at hand, an entry is dropped once the longest period of any
        # bucket seen recently has passed since its last charge: it is full again by then.
        horizon = max(b.budget.period_s for b in recent)
        stale = [k for k, (_, at) in self._state.items() if now - at >= horizon]
        for key in stale:
            del self._state[key]
        if len(self._state) > self._max_entries:  # still too many: forget the oldest half
            ordered = sorted(self._state.items(), key=lambda kv: kv[1][1])
            for key, _ in ordered[: len(ordered) // 2]:
                del self._state[key]


# KEYS: bucket keys. ARGV[1]: cost; then per key: capacity, period in ms.
# Each bucket is a hash {t: tokens, ts: ms of last charge} that expires when it would be full.
# Returns {allowed, then per key: tokens left in thousandths}. Uses the server's clock, so every
# process agrees on time.
BUCKETS_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cost = tonumber(ARGV[1])
local levels = {}
local allowed = 1
for i = 1, #KEYS do
  local cap = tonumber(ARGV[2 * i])
  local period = tonumber(ARGV[2 * i + 1])
  local v = redis.call('HMGET', KEYS[i], 't', 'ts')
  local tok = tonumber(v[1])
  local ts = tonumber(v[2])
  if tok == nil or ts == nil then
    tok = cap
  else
    tok = math.min(cap, tok + math.max(0, now - ts) * cap / period)
  end
  levels[i] = tok
  if tok < cost then allowed = 0 end
end
local out = {allowed}
for i = 1, #KEYS do
  local tok = levels[i]
  if allowed == 1 then
    local cap = tonumber(ARGV[2 * i])
    local period = tonumber(ARGV[2 * i + 1])
    tok = tok - cost
    redis.call('HSET', KEYS[i], 't', tostring(tok), 'ts', now)
    redis.call('PEXPIRE', KEYS[i], math.max(1, math.ceil((cap - tok) * period / cap)))
  end
  out[#out + 1] = math.floor(tok * 1000)
end
return out
"""


class RedisLimiter:
    """Buckets in Redis, shared by every process of a split deployment: one EVALSHA a request.

    Keys are ``<prefix><rule>:<subject>`` and expire once the bucket would be full again.

    When Redis does not answer, the limiter neither fails open nor closed: it falls back to
    buckets in this process (``InProcessLimiter``) and logs a warning. Failing closed would turn
    a Redis outage (data the deployment calls rebuildable) into a total outage; failing open
    would leave login and registration unlimited exactly when someone may be hammering them.
    With the fallback every gateway process still enforces each budget on its own, so a
    deployment of N gateway processes admits at most N times the budget until Redis is back. After
    a failure Redis is left alone for ``retry_redis_after_s`` (requests do not each wait out a
    dead connection), then tried again; its buckets start full, as after any restart.
    """

    def __init__(
        self,
        redis: Redis | Callable[[], Redis],
        prefix: str,
        *,
        retry_redis_after_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._script: tuple[Redis, object] | None = None
        self._last_warning = -math.inf
        self._fallback = InProcessLimiter(clock=clock)
        self._retry_redis_after_s = retry_redis_after_s
        self._redis_down_until = -math.inf
        self._clock = clock

    @property
    def degraded(self) -> bool:
        """True while requests are charged against this process's buckets (Redis is down)."""
        return self._clock() < self._redis_down_until

    def _client(self) -> Redis:
        return self._redis() if callable(self._redis) and not isinstance(self._redis, Redis) else self._redis

    def _bound_script(self) -> object:
        client = self._client()
        if self._script is None or self._script[0] is not client:
            self._script = (client, client.register_script(BUCKETS_LUA))
        return self._script[1]

    async def hit(self, buckets: Sequence[Bucket], cost: int = 1) -> Decision:
        if not buckets:
            return ALLOW_ALL
        keys = [self._prefix + b.key for b in buckets]
        args: list[int] = [cost]
        for b in buckets:
            args += [b.budget.capacity, max(1, round(b.budget.period_s * 1000))]
        if self.degraded:
            return await self._fallback.hit(buckets, cost)
        script = self._bound_script()
        try:
            reply = await script(keys=keys, args=args)  # type: ignore[operator]
        except RedisError as exc:
            now = self._clock()
            self._redis_down_until = now + self._retry_redis_after_s
            if now - self._last_warning > 10:
                self._last_warning = now
                log.warning(
                    "rate limiter: Redis unavailable; limiting in this process until it is back",
                    extra={"error": str(exc)},
                )
            return await self._fallback.hit(buckets, cost)
        allowed_flag, *milli = (int(x) for x in reply)
        allowed = allowed_flag == 1
        # The script already subtracted the cost when it allowed; put it back for the shared arithmetic.
        levels = [m / 1000 + (cost if allowed else 0) for m in milli]
        ok, retry, _, left, worst, reset = _decide(buckets, levels, cost)
        return _decision(ok and allowed, retry, left, worst, reset)


__all__ = ["ALLOW_ALL", "Bucket", "Budget", "Decision", "InProcessLimiter", "RateLimiter", "RedisLimiter"]
