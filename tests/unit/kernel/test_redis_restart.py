"""The kernel's Redis client outlives a Redis restart (issue 16, finding 4).

Redis is our own ``redis-server`` (tests/support/servers.py), killed and restarted empty on
the same port, as a crashed Redis without persistence comes back. Every pooled connection is
dead then; the next commands must still succeed, not fail once per stale connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.support.servers import RedisServer
from twitterclone.infra.kernel import Kernel
from twitterclone.settings import Settings


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.close()


async def test_pooled_connections_survive_a_redis_restart(redis_server: RedisServer) -> None:
    kernel = Kernel(Settings(), {}, redis_url=redis_server.url)
    try:
        client = kernel.redis
        # several pooled connections, as a busy process has
        await asyncio.gather(*(client.set(f"k{i}", i) for i in range(8)))
        redis_server.restart_empty()
        results = await asyncio.gather(*(client.get(f"k{i}") for i in range(8)), return_exceptions=True)
        assert results == [None] * 8  # answered (empty: nothing was persisted), no error
        assert await client.incr("counter") == 1
    finally:
        await kernel.dispose()
