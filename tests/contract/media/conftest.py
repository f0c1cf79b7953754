"""The ``media_port`` fixture: the real media module on the chosen storage, under the chosen binding."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from boundaries.media.port import MediaPort
from modules import media
from tests.contract.conftest import Bind
from tests.support.databases import Storage
from tests.support.wiring import wired


@pytest.fixture
async def media_port(storage: Storage, bind: Bind) -> AsyncIterator[MediaPort]:
    async with wired(storage, (media.MODULE,)) as container:
        port: MediaPort = bind("media", MediaPort, await container.get(MediaPort))
        yield port
