"""The ``media_port`` fixture: today the local binding, wired the way the composition root does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from dishka import Provider, Scope, make_async_container

from boundaries.media.port import MediaPort
from modules.media import MODULE
from twitterclone.infra.kernel import Kernel
from twitterclone.infra.store import sqlite_url
from twitterclone.migrate import migrate
from twitterclone.settings import Settings


@pytest.fixture
async def media_port(tmp_path: Path) -> AsyncIterator[MediaPort]:
    settings = Settings(data_dir=str(tmp_path))
    kernel = Kernel(settings, {"media": (sqlite_url(tmp_path, "media"), None)})
    await migrate(kernel.store("media"))
    kernel_provider = Provider(scope=Scope.APP)
    kernel_provider.provide(lambda: kernel, provides=Kernel)
    container = make_async_container(kernel_provider, MODULE.provider())
    try:
        yield await container.get(MediaPort)
    finally:
        await container.close()
        await kernel.dispose()
