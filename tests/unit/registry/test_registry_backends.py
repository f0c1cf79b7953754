"""Registry backends: in-process, static, and Redis (real Redis, own key prefix)."""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any, cast

import msgspec
import pytest
import redis.asyncio as aioredis

from boundaries._kernel.errors import Unavailable
from twitterclone.registry import (
    InProcessRegistry,
    Instance,
    RedisRegistry,
    Registration,
    RegistryStateUnknown,
    StaticRegistry,
    split_address,
)
from twitterclone.remote.http import HttpTransport

REDIS_URL = os.environ.get("TWITTERCLONE_REDIS_URL", "redis://127.0.0.1:6379/0")


def inst(name: str, service: str = "tweets", port: int = 9000) -> Instance:
    return Instance(service=service, instance_id=name, address=f"127.0.0.1:{port}", started_at=1.5)


async def next_list(watch: AsyncIterator[list[Instance]], within_s: float = 3.0) -> list[str]:
    instances = await asyncio.wait_for(anext(watch), within_s)
    return [i.instance_id for i in instances]


# -- in-process ---------------------------------------------------------------------------------


async def test_in_process_register_resolve_deregister() -> None:
    reg = InProcessRegistry()
    await reg.register(inst("b"))
    await reg.register(inst("a"))
    await reg.register(inst("x", service="users"))
    assert [i.instance_id for i in await reg.resolve("tweets")] == ["a", "b"]
    await reg.deregister(inst("a"))
    await reg.deregister(inst("never-registered"))
    assert [i.instance_id for i in await reg.resolve("tweets")] == ["b"]
    assert await reg.resolve("nobody") == []


async def test_in_process_watch_sees_current_then_changes() -> None:
    reg = InProcessRegistry()
    await reg.register(inst("a"))
    watch = reg.watch("tweets")
    assert await next_list(watch) == ["a"]
    await reg.register(inst("b"))
    assert await next_list(watch) == ["a", "b"]
    await reg.heartbeat(inst("b"))  # no change, nothing to report
    await reg.deregister(inst("a"))
    assert await next_list(watch) == ["b"]
    await watch.aclose()  # type: ignore[attr-defined]


async def test_service_names_must_be_plain() -> None:
    with pytest.raises(ValueError, match="service name"):
        await InProcessRegistry().register(inst("a", service="a:b"))


# -- static -------------------------------------------------------------------------------------


async def test_static_registry_lists_the_manifest_addresses() -> None:
    reg = StaticRegistry({"tweets": ["http://10.0.0.2:8001", "10.0.0.1:8001"], "media": ["https://m:443"]})
    tweets = await reg.resolve("tweets")
    assert [(i.address, i.scheme) for i in tweets] == [("10.0.0.1:8001", "http"), ("10.0.0.2:8001", "http")]
    assert (await reg.resolve("media"))[0].base_url == "https://m:443"
    await reg.register(inst("ignored"))
    await reg.deregister(tweets[0])
    assert len(await reg.resolve("tweets")) == 2
    watch = reg.watch("tweets")
    assert len(await asyncio.wait_for(anext(watch), 1)) == 2
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(anext(watch), 0.05)  # nothing ever changes


@pytest.mark.parametrize("bad", ["nohost", "host:", ":80", "http://h:port"])
def test_static_addresses_are_validated(bad: str) -> None:
    with pytest.raises(ValueError, match="host:port"):
        split_address(bad)


# -- Redis --------------------------------------------------------------------------------------


@pytest.fixture
async def redis_client() -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(REDIS_URL)
    await client.ping()  # no Redis is a failure, not a skip
    yield client
    await client.aclose()


@pytest.fixture
async def prefix(redis_client: aioredis.Redis) -> AsyncIterator[str]:
    p = f"test-registry-{uuid.uuid4().hex}:"
    yield p
    keys = [k async for k in redis_client.scan_iter(match=f"{p}*")]
    if keys:
        await redis_client.delete(*keys)


async def test_redis_register_resolve_deregister(redis_client: aioredis.Redis, prefix: str) -> None:
    reg = RedisRegistry(redis_client, prefix, ttl_s=5)
    a = Instance(
        service="tweets", instance_id="a", address="10.0.0.1:8001", meta={"zone": "z1"}, started_at=3.0
    )
    await reg.register(a)
    await reg.register(inst("b"))
    await reg.register(inst("c", service="users"))
    assert await reg.resolve("tweets") == [a, inst("b")]  # the whole instance round-trips
    raw = await redis_client.get(f"{prefix}registry:tweets:a")
    assert raw is not None
    assert msgspec.json.decode(raw, type=Instance) == a
    ttl_ms = await redis_client.pttl(f"{prefix}registry:tweets:a")
    assert 4000 < ttl_ms <= 5000
    await reg.deregister(a)
    assert [i.instance_id for i in await reg.resolve("tweets")] == ["b"]
    assert await redis_client.exists(f"{prefix}registry:tweets:a") == 0


async def test_redis_instance_that_stops_heartbeating_expires(
    redis_client: aioredis.Redis, prefix: str
) -> None:
    reg = RedisRegistry(redis_client, prefix, ttl_s=1.0)
    await reg.register(inst("alive"))
    await reg.register(inst("dead"))
    for _ in range(6):  # 1.5 s: only "alive" heartbeats
        await asyncio.sleep(0.25)
        await reg.heartbeat(inst("alive"))
    assert [i.instance_id for i in await reg.resolve("tweets")] == ["alive"]
    # the expired id was pruned from the index too
    members = await redis_client.smembers(f"{prefix}registry-index:tweets")
    assert members == {b"alive"}


async def test_redis_heartbeat_brings_back_an_expired_instance(
    redis_client: aioredis.Redis, prefix: str
) -> None:
    reg = RedisRegistry(redis_client, prefix, ttl_s=0.3)
    await reg.register(inst("a"))
    await asyncio.sleep(0.5)
    assert await reg.resolve("tweets") == []
    await reg.heartbeat(inst("a"))
    assert [i.instance_id for i in await reg.resolve("tweets")] == ["a"]


async def test_redis_unreadable_entry_is_skipped(redis_client: aioredis.Redis, prefix: str) -> None:
    reg = RedisRegistry(redis_client, prefix)
    await reg.register(inst("good"))
    await redis_client.set(f"{prefix}registry:tweets:bad", b"{not json", px=5000)
    await redis_client.sadd(f"{prefix}registry-index:tweets", "bad")
    assert [i.instance_id for i in await reg.resolve("tweets")] == ["good"]


async def test_redis_watch_sees_register_deregister_and_expiry(
    redis_client: aioredis.Redis, prefix: str
) -> None:
    reg = RedisRegistry(redis_client, prefix, ttl_s=1.0, watch_interval_s=0.1)
    await reg.register(inst("a"))
    watch = reg.watch("tweets")
    assert await next_list(watch) == ["a"]
    await reg.register(inst("b"))
    assert await next_list(watch) == ["a", "b"]
    await reg.deregister(inst("b"))
    assert await next_list(watch) == ["a"]
    assert await next_list(watch, within_s=2.5) == []  # "a" never heartbeats: gone after the TTL
    await watch.aclose()  # type: ignore[attr-defined]


async def test_redis_registry_that_lost_its_state_is_unknown_not_empty(
    redis_client: aioredis.Redis, prefix: str
) -> None:
    reg = RedisRegistry(redis_client, prefix, ttl_s=5)
    await reg.register(inst("a"))
    await reg.register(inst("b"))
    await reg.deregister(inst("b"))
    assert [i.instance_id for i in await reg.resolve("tweets")] == ["a"]
    await reg.deregister(inst("a"))
    assert await reg.resolve("tweets") == []  # every instance left: that is "none"
    await reg.register(inst("a"))
    keys = [k async for k in redis_client.scan_iter(match=f"{prefix}*")]
    await redis_client.delete(*keys)  # what a Redis restarted without its data looks like
    with pytest.raises(RegistryStateUnknown):
        await reg.resolve("tweets")
    await reg.heartbeat(inst("a"))
    assert [i.instance_id for i in await reg.resolve("tweets")] == ["a"]


class _WipedAfterTheIndex:
    """A Redis client whose data is wiped right after ``resolve`` read the index: Redis restarting
    empty between the SMEMBERS and the MGET of one resolve."""

    def __init__(self, real: aioredis.Redis, prefix: str) -> None:
        self._real = real
        self._prefix = prefix

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    async def smembers(self, key: str) -> Any:
        members = await self._real.smembers(key)
        keys = [k async for k in self._real.scan_iter(match=f"{self._prefix}*")]
        await self._real.delete(*keys)
        return members


async def test_redis_registry_that_loses_its_state_mid_resolve_is_unknown_not_empty(
    redis_client: aioredis.Redis, prefix: str
) -> None:
    """Callers keep what they knew only if "lost" is not read as "every instance expired"."""
    await RedisRegistry(redis_client, prefix, ttl_s=5).register(inst("a"))
    wiped = RedisRegistry(cast(aioredis.Redis, _WipedAfterTheIndex(redis_client, prefix)), prefix, ttl_s=5)
    with pytest.raises(RegistryStateUnknown):
        await wiped.resolve("tweets")


async def test_callers_keep_known_instances_while_the_registry_is_empty(
    redis_client: aioredis.Redis, prefix: str
) -> None:
    # The transport's refresher gets a client of its own: closing the transport cancels it in the
    # middle of a command, and the connection that leaves must not be the one this test's
    # fixtures go on using (a CI run once hung here, waiting on the shared connection).
    own = aioredis.Redis.from_url(REDIS_URL)
    reg = RedisRegistry(own, prefix, ttl_s=5)
    await reg.register(inst("a", port=9001))
    await reg.register(inst("b", port=9002))
    transport = HttpTransport(None, reg, refresh_interval_s=0.05)
    try:
        with pytest.raises(Unavailable):  # nobody listens there; the call only starts resolving
            await transport.call("tweets", "whoami", b"", idempotent=True)
        keys = [k async for k in redis_client.scan_iter(match=f"{prefix}*")]
        await redis_client.delete(*keys)
        await asyncio.sleep(0.3)  # several refreshes of an empty registry
        assert sorted(row.instance_id for row in transport.snapshot()) == ["a", "b"]
        await reg.register(inst("a", port=9001))  # fresh news replaces what was kept
        await asyncio.sleep(0.3)
        assert [row.instance_id for row in transport.snapshot()] == ["a"]
    finally:
        await transport.close()
        await own.aclose()


# -- Registration -------------------------------------------------------------------------------


async def test_registration_heartbeats_and_deregisters_on_stop(
    redis_client: aioredis.Redis, prefix: str
) -> None:
    reg = RedisRegistry(redis_client, prefix, ttl_s=0.8)
    async with Registration(reg, inst("a"), interval_s=0.2) as registration:
        assert registration.running
        await asyncio.sleep(1.6)  # twice the TTL: only heartbeats keep it there
        assert [i.instance_id for i in await reg.resolve("tweets")] == ["a"]
    assert await reg.resolve("tweets") == []
    assert not registration.running


class FlakyRegistry(InProcessRegistry):
    """Fails the first few calls, like a registry that is briefly unreachable."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures_left = failures
        self.calls = 0

    async def register(self, instance: Instance) -> None:
        self.calls += 1
        if self.failures_left > 0:
            self.failures_left -= 1
            raise ConnectionError("registry unreachable")
        await super().register(instance)


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


async def test_registration_survives_registry_failures() -> None:
    records = Records()
    logger = logging.getLogger("twitterclone.registry")
    logger.addHandler(records)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        await _survives_failures()
    finally:
        logger.removeHandler(records)
        logger.setLevel(level)
    assert records.messages.count("registry heartbeat failed; retrying") == 3
    assert "registry heartbeat recovered" in records.messages


async def _survives_failures() -> None:
    reg = FlakyRegistry(failures=3)
    registration = Registration(reg, inst("a"), interval_s=0.2)
    await registration.start()  # does not raise although the registry is down
    assert await reg.resolve("tweets") == []
    await asyncio.sleep(0.5)  # retries every interval/4 after a failure
    assert registration.running
    assert [i.instance_id for i in await reg.resolve("tweets")] == ["a"]
    assert registration.failures == 0
    await registration.stop()
    assert await reg.resolve("tweets") == []
