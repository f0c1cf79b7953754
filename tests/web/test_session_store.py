"""Web sessions in Redis (split deployments: every gateway replica sees them) and in memory."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from boundaries.users.dto import TokenPair
from twitterclone.gateway.web.session import SessionStore, build_session_store, new_record, new_sid

PAIR = TokenPair(access_token="a" * 40, refresh_token="r" * 40, expires_in=900, user_id="42")


async def _round_trip(store: SessionStore) -> None:
    sid = new_sid()
    assert await store.get(sid) is None
    record = new_record(PAIR, "alice")
    await store.put(sid, record)
    again = await store.get(sid)
    assert again is not None
    assert (again.user_id, again.handle, again.csrf) == ("42", "alice", record.csrf)
    assert await store.get(new_sid()) is None  # another id names nothing
    await store.delete(sid)
    assert await store.get(sid) is None


async def test_sessions_in_memory() -> None:
    await _round_trip(build_session_store(None, "tc:", ttl_s=60))


async def test_sessions_in_redis_are_keyed_by_a_hash_and_expire(redis_prefix: tuple[Redis, str]) -> None:
    redis, prefix = redis_prefix
    store = build_session_store(redis, prefix, ttl_s=1)
    await _round_trip(store)
    sid = new_sid()
    await store.put(sid, new_record(PAIR, "alice"))
    keys = [k.decode() async for k in redis.scan_iter(match=f"{prefix}*")]
    assert len(keys) == 1
    assert sid not in keys[0]  # the cookie's value is never a key: a dump of Redis names no session
    await asyncio.sleep(1.5)
    assert await store.get(sid) is None


@pytest.mark.parametrize("value", [b"not msgpack at all", b"\x81\xa1x\x01"])
async def test_a_damaged_record_is_no_session(value: bytes, redis_prefix: tuple[Redis, str]) -> None:
    redis, prefix = redis_prefix
    store = build_session_store(redis, prefix, ttl_s=60)
    sid = new_sid()
    await store.put(sid, new_record(PAIR, "alice"))
    [key] = [k async for k in redis.scan_iter(match=f"{prefix}*")]
    await redis.set(key, value)
    assert await store.get(sid) is None
