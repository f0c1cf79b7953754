"""The ``users_port`` fixture: today the local binding, wired the way the composition root does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from dishka import Provider, Scope, make_async_container

from boundaries.users.port import UsersPort
from modules.users import MODULE
from twitterclone.infra.kernel import Kernel
from twitterclone.infra.store import sqlite_url
from twitterclone.migrate import migrate
from twitterclone.settings import Settings

FAST: dict[str, Any] = {"argon2_time_cost": 1, "argon2_memory_kib": 8192, "argon2_parallelism": 1}


@pytest.fixture
async def users_port(tmp_path: Path) -> AsyncIterator[UsersPort]:
    settings = Settings(data_dir=str(tmp_path), **FAST)
    kernel = Kernel(settings, {"users": (sqlite_url(tmp_path, "users"), None)})
    await migrate(kernel.store("users"))
    kernel_provider = Provider(scope=Scope.APP)
    kernel_provider.provide(lambda: kernel, provides=Kernel)
    container = make_async_container(kernel_provider, MODULE.provider())
    try:
        yield await container.get(UsersPort)
    finally:
        await container.close()
        await kernel.dispose()
