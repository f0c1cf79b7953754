"""Snowflake-style 64-bit ids: 41-bit milliseconds, 10-bit worker, 12-bit sequence.

Two processes must never hold the same worker id. Where they share a machine and a data
directory (the monolith's workers, everything ``up`` starts), a lock file per id does it
(``claim_worker_id``). Where a deployment has a shared store — every manifest with a ``[redis]``
section, whose processes may run on many machines, e.g. the pods of one Kubernetes Deployment,
each with its own empty directory — the id is a lease in Redis (``WorkerLease``), renewed in the
background; a process whose lease ran out or was taken issues no ids until it holds one again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from boundaries._kernel.errors import Unavailable
from twitterclone.infra.files import open_private, private_dir

log = logging.getLogger("twitterclone.ids")

#: 2020-01-01T00:00:00Z in milliseconds: the ids' epoch.
EPOCH_MS = 1_577_836_800_000
WORKER_BITS = 10
SEQUENCE_BITS = 12
MAX_WORKER = (1 << WORKER_BITS) - 1
MAX_SEQUENCE = (1 << SEQUENCE_BITS) - 1


class ClockWentBackwards(RuntimeError):
    """The wall clock moved back further than we are willing to wait out."""


class WorkerIdLost(Unavailable):
    """This process holds no worker id lease now: it makes no ids until it holds one again (503)."""


class IdGenerator:
    """Hands out unique, time-ordered ids for one worker.

    It never goes backwards: a small clock step back is waited out; a large one raises. With a
    ``lease`` the worker id is the lease's, and no id is made while the lease is not held
    (``WorkerIdLost``).
    """

    def __init__(
        self,
        worker_id: int | None = None,
        *,
        max_backwards_wait_ms: int = 50,
        lease: WorkerLease | None = None,
    ) -> None:
        if worker_id is None:
            worker_id = os.getpid() & MAX_WORKER
        if not 0 <= worker_id <= MAX_WORKER:
            raise ValueError(f"worker id must be in 0..{MAX_WORKER}, got {worker_id}")
        self._worker_id = worker_id
        self._lease = lease
        self._max_wait = max_backwards_wait_ms
        self._last_ms = -1
        self._sequence = 0
        self._lock = threading.Lock()

    @property
    def worker_id(self) -> int:
        """The worker id in the ids made now (the lease's, when there is one)."""
        if self._lease is not None and self._lease.worker_id is not None:
            return self._lease.worker_id
        return self._worker_id

    def next_int(self) -> int:
        """A new id as an int."""
        with self._lock:
            worker_id = self._worker_id
            if self._lease is not None:
                held = self._lease.held_id()
                if held is None:
                    raise WorkerIdLost("this process holds no worker id lease right now")
                worker_id = held
            now = _now_ms()
            if now < self._last_ms:
                behind = self._last_ms - now
                if behind > self._max_wait:
                    raise ClockWentBackwards(f"clock went back {behind} ms")
                time.sleep(behind / 1000)
                now = _now_ms()
                while now < self._last_ms:
                    now = _now_ms()
            if now == self._last_ms:
                self._sequence = (self._sequence + 1) & MAX_SEQUENCE
                if self._sequence == 0:  # sequence spent this millisecond: wait for the next
                    while now <= self._last_ms:
                        now = _now_ms()
            else:
                self._sequence = 0
            self._last_ms = now
            return (
                ((now - EPOCH_MS) << (WORKER_BITS + SEQUENCE_BITS))
                | (worker_id << SEQUENCE_BITS)
                | self._sequence
            )

    def next(self) -> str:
        """A new id as the decimal string that travels in DTOs and JSON."""
        return str(self.next_int())


def id_time(snowflake: int | str) -> datetime:
    """When an id was made."""
    ms = (int(snowflake) >> (WORKER_BITS + SEQUENCE_BITS)) + EPOCH_MS
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def min_id_at(moment: datetime) -> int:
    """The smallest id that could have been made at ``moment`` (for time-bounded queries)."""
    ms = int(moment.timestamp() * 1000) - EPOCH_MS
    return max(ms, 0) << (WORKER_BITS + SEQUENCE_BITS)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


_claimed: list[Any] = []  # open lock files: a claim lasts as long as the process


def claim_worker_id(directory: Path) -> int:
    """Claim a worker id no other live process on this machine holds (a lock file per id).

    Processes that share a data directory (the monolith's workers, every process `up`
    starts) get distinct ids without coordination; a dead process's lock goes with it.
    Across machines, set TWITTERCLONE_WORKER_ID explicitly.
    """
    import fcntl

    private_dir(directory)
    start = os.getpid() & MAX_WORKER
    for offset in range(MAX_WORKER + 1):
        candidate = (start + offset) & MAX_WORKER
        f = os.fdopen(open_private(directory / f"{candidate}.lock", os.O_WRONLY | os.O_APPEND), "a")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            continue
        _claimed.append(f)
        return candidate
    raise RuntimeError(f"all {MAX_WORKER + 1} worker ids are taken in {directory}")


#: Renews the lease (KEYS[1]) if this process (ARGV[1]) holds it, or takes it back if nobody
#: does (Redis came back empty: no one else can have it while it is missing): 1 renewed, 2
#: taken back, 0 held by another process. ARGV[2]: the lease time in ms.
_RENEW = """
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 2
end
return 0
"""

#: Deletes the lease (KEYS[1]) only if this process (ARGV[1]) holds it.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


#: The leases' epoch (KEYS[1]): set to Redis' time (ms) if missing; returns how many ms of the
#: lease time ARGV[1] are left since it was set (0 once they are over).
_LEASE_EPOCH = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local epoch = tonumber(redis.call('GET', KEYS[1]) or '')
if not epoch then
  redis.call('SET', KEYS[1], now)
  epoch = now
end
local wait = epoch + tonumber(ARGV[1]) - now
if wait < 0 then return 0 end
return wait
"""


def lease_epoch_key(prefix: str) -> str:
    """When this Redis began to hold worker id leases (it lacks it after losing its state)."""
    return f"{prefix}worker-id-epoch"


def worker_lease_key(prefix: str, worker_id: int) -> str:
    """The Redis key whose holder may make ids with ``worker_id``."""
    return f"{prefix}worker-id:{worker_id}"


class WorkerLease:
    """A worker id held cluster-wide: a Redis key with a TTL, renewed in the background.

    Why Redis and not PostgreSQL: every manifest whose processes can run on several machines
    has a Redis (the registry's heartbeats already work this way), while PostgreSQL holds one
    schema per module and no table the kernel owns; an advisory lock would pin a connection per
    process for its whole life and breaks behind a transaction-pooling proxy.

    Safety: the lease counts as held until ``ttl_s`` (less a margin) after the last renewal that
    Redis confirmed was *sent* — so it ends, on this process's clock, before the key can expire
    in Redis. A key that vanishes early (Redis restarted empty) could be taken by a newcomer while
    the old holder still counts on it, so a newcomer taking a key less than ``ttl_s`` after Redis
    began to hold leases (the epoch key, which an empty or flushed Redis lacks) waits out the
    rest of that time before using it: every holder from before has by then renewed (and found
    the key taken: it stops) or run out. So the first process of a new deployment waits too. A holder that
    finds its key held by another process stops making ids at once and takes another id; while
    it holds none, ``IdGenerator.next_int`` raises ``WorkerIdLost`` and readiness fails.
    (Wall clocks of different machines must agree within milliseconds, as for any Snowflake
    scheme: an id handed over from a machine whose clock ran ahead could repeat one.)
    """

    def __init__(
        self,
        redis: Callable[[], Redis],
        prefix: str,
        *,
        ttl_s: float = 10.0,
        renew_every_s: float | None = None,
        owner: str | None = None,
    ) -> None:
        self._redis = redis
        self.prefix = prefix
        self.ttl_s = ttl_s
        self.renew_every_s = renew_every_s if renew_every_s is not None else ttl_s / 3
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        #: the id this process holds (or last held), None before the first claim
        self.worker_id: int | None = None
        self._valid_from = float("inf")  # monotonic
        self._valid_until = float("-inf")
        self._task: asyncio.Task[None] | None = None

    def held_id(self) -> int | None:
        """The worker id if the lease is held now, else None."""
        now = time.monotonic()
        if self.worker_id is not None and self._valid_from <= now < self._valid_until:
            return self.worker_id
        return None

    @property
    def held(self) -> bool:
        return self.held_id() is not None

    async def start(self) -> None:
        """Take a worker id (if Redis answers) and keep renewing it in the background."""
        if self._task is not None:
            return
        try:
            await self.claim()
        except Exception as exc:  # the background loop keeps trying; readiness says why
            log.warning("could not take a worker id lease yet", extra={"error": repr(exc)})
        self._task = asyncio.create_task(self._renew_forever(), name="worker-id-lease")

    async def stop(self) -> None:
        """Stop renewing and give the id back (only if still ours)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.worker_id is not None:
            self._valid_until = float("-inf")
            with contextlib.suppress(Exception):
                await self._redis().eval(
                    _RELEASE, 1, worker_lease_key(self.prefix, self.worker_id), self.owner
                )

    async def claim(self) -> int:
        """Take a free worker id (SET NX with the lease time); wait out a recent Redis restart."""
        redis = self._redis()
        ttl_ms = int(self.ttl_s * 1000)
        start = random.randrange(MAX_WORKER + 1)
        for offset in range(MAX_WORKER + 1):
            candidate = (start + offset) & MAX_WORKER
            sent = time.monotonic()
            if await redis.set(worker_lease_key(self.prefix, candidate), self.owner, nx=True, px=ttl_ms):
                wait = await self._since_redis_lost_state(redis)
                self.worker_id = candidate
                self._valid_from = sent + wait
                self._valid_until = sent + self._validity()
                if self._valid_from > time.monotonic():
                    log.warning(
                        "took a worker id shortly after a Redis restart; waiting out older holders",
                        extra={"worker_id": candidate, "wait_s": round(self._valid_from - sent, 2)},
                    )
                while (left := self._valid_from - time.monotonic()) > 0:
                    await asyncio.sleep(min(self.renew_every_s, left))
                    if not await self.renew():  # an older holder took it back: try another
                        return await self.claim()
                log.info("took a worker id lease", extra={"worker_id": candidate, "owner": self.owner})
                return candidate
        raise RuntimeError(f"all {MAX_WORKER + 1} worker ids are leased under {self.prefix!r}")

    async def _since_redis_lost_state(self, redis: Redis) -> float:
        """How long to wait before a lease taken now may be used (0 unless Redis lost its state).

        The leases' epoch key is set once, with Redis' time, by the first claimer a Redis holds
        no leases for (a new deployment, or Redis came back empty or was flushed); up to
        ``ttl_s`` after it, a holder from before may still count on a key that vanished.
        """
        wait_ms = await redis.eval(_LEASE_EPOCH, 1, lease_epoch_key(self.prefix), str(int(self.ttl_s * 1000)))
        return int(wait_ms) / 1000

    async def renew(self) -> bool:
        """Renew (or take back) the lease; False if another process holds the id now."""
        if self.worker_id is None:
            await self.claim()
            return True
        sent = time.monotonic()
        result = await self._redis().eval(
            _RENEW,
            1,
            worker_lease_key(self.prefix, self.worker_id),
            self.owner,
            str(int(self.ttl_s * 1000)),
        )
        if int(result) == 0:
            self._valid_until = float("-inf")
            log.error(
                "lost the worker id lease to another process; making no ids until another is held",
                extra={"worker_id": self.worker_id, "owner": self.owner},
            )
            return False
        self._valid_until = max(self._valid_until, sent + self._validity())
        return True

    def _validity(self) -> float:
        # A margin for the two clocks' rates and the time the command took to reach Redis.
        return self.ttl_s * 0.8

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.renew_every_s)
            try:
                if not await self.renew():
                    await self.claim()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away: the lease runs out on its own
                log.warning(
                    "could not renew the worker id lease; will retry",
                    extra={"worker_id": self.worker_id, "error": repr(exc), "held": self.held},
                )
