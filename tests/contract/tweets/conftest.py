"""The ``tweets_port`` fixture: today the local binding, wired the way the composition root does.

The users and media modules are the real ones (their ports are what tweets calls).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from dishka import AsyncContainer, Provider, Scope, make_async_container

from boundaries.tweets.port import TweetsPort
from boundaries.users.dto import Register
from boundaries.users.port import UsersPort
from modules import media, tweets, users
from twitterclone.infra.kernel import Kernel
from twitterclone.infra.store import sqlite_url
from twitterclone.migrate import migrate
from twitterclone.settings import Settings

FAST: dict[str, Any] = {"argon2_time_cost": 1, "argon2_memory_kib": 8192, "argon2_parallelism": 1}
MODULES = (users.MODULE, tweets.MODULE, media.MODULE)


@pytest.fixture
async def container(tmp_path: Path) -> AsyncIterator[AsyncContainer]:
    settings = Settings(data_dir=str(tmp_path), **FAST)
    kernel = Kernel(settings, {m.name: (sqlite_url(tmp_path, m.name), None) for m in MODULES})
    for m in MODULES:
        await migrate(kernel.store(m.name))
    kernel_provider = Provider(scope=Scope.APP)
    kernel_provider.provide(lambda: kernel, provides=Kernel)
    kernel_provider.provide(lambda: settings, provides=Settings)
    c = make_async_container(kernel_provider, *(m.provider() for m in MODULES))
    try:
        yield c
    finally:
        await c.close()
        await kernel.dispose()


@pytest.fixture
async def tweets_port(container: AsyncContainer) -> TweetsPort:
    port: TweetsPort = await container.get(TweetsPort)
    return port


@dataclass(frozen=True)
class People:
    alice: str
    bob: str
    carol: str


@pytest.fixture
async def people(container: AsyncContainer) -> People:
    """Three registered accounts (ids), made through the users port."""
    port: UsersPort = await container.get(UsersPort)
    ids = []
    for handle in ("alice", "bob", "carol"):
        account = await port.register(
            Register(handle=handle, email=f"{handle}@example.org", password="correct horse battery")
        )
        ids.append(account.profile.id)
    return People(*ids)
