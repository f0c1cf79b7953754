"""The users fixtures: the real users module on the chosen storage, under the chosen binding.

``users_port`` is the whole port (what the gateway uses); ``directory`` is the narrow
``UserDirectoryPort`` other modules use, on the same service. Under the HTTP binding both go
through one port server that serves every port of the module, as a users process does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from boundaries.media.port import MediaPort
from boundaries.users.directory import UserDirectoryPort
from boundaries.users.port import UsersPort
from modules import media, users
from tests.contract.conftest import Bind
from tests.support.databases import Storage
from tests.support.wiring import wired


@dataclass(frozen=True)
class UsersPorts:
    """Both faces of one users module: the whole port and the narrow directory."""

    port: UsersPort
    directory: UserDirectoryPort
    #: The media module the users module checks profile images with (bound locally).
    media: MediaPort


@pytest.fixture
async def users_ports(storage: Storage, bind: Bind) -> AsyncIterator[UsersPorts]:
    # Media is real too: it checks the images a profile shows.
    async with wired(storage, (users.MODULE, media.MODULE)) as container:
        service = await container.get(UsersPort)
        assert await container.get(UserDirectoryPort) is service  # one service answers both
        yield UsersPorts(
            port=bind("users", UsersPort, service, serves=users.MODULE.ports),
            directory=bind("users", UserDirectoryPort, service, serves=users.MODULE.ports),
            media=await container.get(MediaPort),
        )


@pytest.fixture
def users_port(users_ports: UsersPorts) -> UsersPort:
    return users_ports.port


@pytest.fixture
def directory(users_ports: UsersPorts) -> UserDirectoryPort:
    return users_ports.directory
