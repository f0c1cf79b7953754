"""The ``timeline_port`` fixture: the whole monolith runtime on the chosen storage, the timeline port
under the chosen binding, home timelines in SQL or in Redis.

Users and tweets are the real modules and events flow through the outbox relays;
``world.settle()`` waits until every event has been delivered.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from timeline_world import World

from boundaries.timeline.port import TimelinePort
from boundaries.tweets.port import TweetsPort
from boundaries.users.port import UsersPort
from tests.contract.conftest import Bind
from tests.support.databases import Storage, redis_url
from tests.support.wiring import FAST_ARGON2
from twitterclone import composition
from twitterclone.composition import MODULES, Runtime, build_runtime
from twitterclone.manifest import parse_manifest
from twitterclone.settings import Settings


@pytest.fixture(params=["sql", "redis"])
async def runtime(
    request: pytest.FixtureRequest,
    storage: Storage,
    redis_prefix: tuple[Redis, str],
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Runtime]:
    home_store: str = request.param
    _, prefix = redis_prefix
    manifest = parse_manifest(
        f"""
        name = "contract"
        [redis]
        url = "{redis_url()}"
        prefix = "{prefix}"
        [modules.timeline]
        options = {{ home_store = "{home_store}" }}
        """
    )
    locations = await storage.migrated(list(MODULES))
    # This test's own schemas (the manifest would name them after the modules, shared by all tests).
    monkeypatch.setattr(composition, "store_locations", lambda _manifest, _settings: locations)
    # One process: a fixed worker id, not a lease (a fresh Redis prefix makes a lease wait ~8 s).
    settings = Settings(data_dir=str(storage.data_dir), worker_id=1, **FAST_ARGON2)
    rt = build_runtime(manifest, settings)
    await rt.start()
    try:
        yield rt
    finally:
        await rt.stop()


@pytest.fixture
async def timeline_port(runtime: Runtime, bind: Bind) -> TimelinePort:
    port: TimelinePort = bind("timeline", TimelinePort, await runtime.get(TimelinePort))
    return port


@pytest.fixture
async def world(runtime: Runtime) -> World:
    return World(runtime, await runtime.get(UsersPort), await runtime.get(TweetsPort))
