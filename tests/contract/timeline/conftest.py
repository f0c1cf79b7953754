"""The ``timeline_port`` fixture: today the local binding, wired by the composition root.

The whole monolith runtime runs (users and tweets are the real modules, events flow through
the outbox relays); ``world.settle()`` waits until every event has been delivered.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from timeline_world import World

from boundaries.timeline.port import TimelinePort
from boundaries.tweets.port import TweetsPort
from boundaries.users.port import UsersPort
from tests.conftest import FAST_ARGON2, MONOLITH, migrate_all
from twitterclone.composition import Runtime, build_runtime
from twitterclone.manifest import load_manifest
from twitterclone.settings import Settings


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    settings = Settings(data_dir=str(tmp_path / "data"), manifest=str(MONOLITH), **FAST_ARGON2)
    manifest = load_manifest(MONOLITH)
    await migrate_all(manifest, settings)
    rt = build_runtime(manifest, settings)
    await rt.start()
    try:
        yield rt
    finally:
        await rt.stop()


@pytest.fixture
async def timeline_port(runtime: Runtime) -> TimelinePort:
    port: TimelinePort = await runtime.get(TimelinePort)
    return port


@pytest.fixture
async def world(runtime: Runtime) -> World:
    return World(runtime, await runtime.get(UsersPort), await runtime.get(TweetsPort))
