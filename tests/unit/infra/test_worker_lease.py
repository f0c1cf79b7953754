"""Worker ids leased cluster-wide in Redis: never the same id in two live processes.

Against a real Redis, each test under its own key prefix. Claimers are made to contend for the
same ids (every one starts its search at id 0), as pods of one Deployment would.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import uuid4

import pytest
from redis.asyncio import Redis

from twitterclone.infra import ids as ids_mod
from twitterclone.infra.ids import IdGenerator, WorkerIdLost, WorkerLease, worker_lease_key
from twitterclone.infra.kernel import Kernel
from twitterclone.settings import Settings

REDIS_URL = os.environ.get("TWITTERCLONE_REDIS_URL", "redis://127.0.0.1:6379/0")
TTL_S = 1.0


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


async def forget(redis: Redis, prefix: str) -> None:
    keys = [k async for k in redis.scan_iter(match=f"{prefix}*")]
    if keys:
        await redis.delete(*keys)


@pytest.fixture
async def prefix(redis: Redis) -> AsyncIterator[str]:
    p = f"tc:test:{uuid4().hex}:"
    yield p
    await forget(redis, p)


@pytest.fixture
def contended(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every claimer tries id 0 first, then 1, 2, ..."""
    monkeypatch.setattr(ids_mod.random, "randrange", lambda n: 0)


def lease(redis: Redis, prefix: str, **kw: float) -> WorkerLease:
    return WorkerLease(
        lambda: redis, prefix, ttl_s=kw.get("ttl_s", TTL_S), renew_every_s=kw.get("renew", 0.1)
    )


async def test_concurrent_claimers_get_distinct_ids_and_make_distinct_ids(
    redis: Redis, prefix: str, contended: None
) -> None:
    leases = [lease(redis, prefix) for _ in range(16)]
    await asyncio.gather(*(x.start() for x in leases))
    try:
        held = [x.held_id() for x in leases]
        assert None not in held
        assert sorted(held) == list(range(16))  # all went for 0 first; each got its own
        gens = [IdGenerator(lease=x) for x in leases]
        made = [g.next_int() for g in gens for _ in range(500)]
        assert len(set(made)) == len(made)
    finally:
        await asyncio.gather(*(x.stop() for x in leases))
    assert not [k async for k in redis.scan_iter(match=f"{prefix}worker-id:*")]  # given back


async def test_the_first_claimer_after_redis_lost_its_state_waits_before_making_ids(
    redis: Redis, prefix: str, contended: None
) -> None:
    first = lease(redis, prefix)
    started = time.monotonic()
    await first.start()
    # A Redis that holds no leases yet may have lost them: holders from before may still count on theirs.
    assert time.monotonic() - started >= 0.8 * TTL_S - 0.05
    later = lease(redis, prefix)
    started = time.monotonic()
    await later.start()
    assert time.monotonic() - started < 0.5  # Redis has held leases long enough
    await asyncio.gather(first.stop(), later.stop())


async def test_a_holder_whose_id_is_taken_stops_making_ids_then_takes_another(
    redis: Redis, prefix: str, contended: None
) -> None:
    holder = lease(redis, prefix)
    await holder.start()
    gen = IdGenerator(lease=holder)
    gen.next_int()
    assert holder.held_id() == 0
    await redis.set(worker_lease_key(prefix, 0), "someone else", px=5000)  # e.g. after a partition
    assert await holder.renew() is False
    with pytest.raises(WorkerIdLost):
        gen.next_int()
    deadline = time.monotonic() + 3
    while holder.held_id() is None:
        assert time.monotonic() < deadline, "the holder took no other id"
        await asyncio.sleep(0.02)
    assert holder.held_id() != 0
    assert (gen.next_int() >> ids_mod.SEQUENCE_BITS) & ids_mod.MAX_WORKER == holder.held_id()
    await holder.stop()


async def test_redis_restarted_empty_never_lets_two_processes_hold_one_id(
    redis: Redis, prefix: str, contended: None
) -> None:
    old = lease(redis, prefix, renew=0.3)
    await old.start()
    assert old.held_id() == 0
    await forget(redis, prefix)  # Redis comes back empty; the old holder has not noticed yet
    newcomer = lease(redis, prefix, renew=0.3)
    claim = asyncio.create_task(newcomer.start())
    both = 0
    deadline = time.monotonic() + 4 * TTL_S
    while time.monotonic() < deadline:
        a, b = old.held_id(), newcomer.held_id()
        if a is not None and a == b:
            both += 1
        await asyncio.sleep(0.005)
    await claim
    assert both == 0
    assert {old.held_id(), newcomer.held_id()} == {0, 1}  # one kept or took back 0, the other moved on
    await asyncio.gather(old.stop(), newcomer.stop())


async def test_a_holder_that_cannot_reach_redis_stops_making_ids_when_its_lease_runs_out(
    redis: Redis, prefix: str
) -> None:
    down = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.1)
    clients = [redis]
    holder = WorkerLease(lambda: clients[0], prefix, ttl_s=TTL_S, renew_every_s=0.1)
    await holder.start()
    gen = IdGenerator(lease=holder)
    gen.next_int()
    clients[0] = down
    await asyncio.sleep(TTL_S)
    with pytest.raises(WorkerIdLost):
        gen.next_int()
    clients[0] = redis  # back, and the key expired meanwhile: taken back
    deadline = time.monotonic() + 2
    while holder.held_id() is None:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    gen.next_int()
    await holder.stop()
    await down.aclose()


async def test_a_kernel_with_a_shared_store_leases_its_worker_id(tmp_path: Path, prefix: str) -> None:
    kernel = Kernel(
        Settings(data_dir=str(tmp_path)), {}, redis_url=REDIS_URL, key_prefix=prefix, leased_worker_id=True
    )
    with pytest.raises(WorkerIdLost):
        kernel.ids.next_int()  # not started: no lease, no ids
    assert not (tmp_path / "worker-ids").exists()  # the data directory's claim is not used
    await kernel.start()
    try:
        kernel.ids.next_int()
        assert kernel.worker_lease is not None
        assert kernel.worker_lease.held
    finally:
        await kernel.dispose()
    fixed = Kernel(
        Settings(data_dir=str(tmp_path), worker_id=9), {}, redis_url=REDIS_URL, leased_worker_id=True
    )
    assert fixed.worker_lease is None
    assert fixed.ids.worker_id == 9
