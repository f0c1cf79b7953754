"""The ``users_port`` fixture: the real users module on the chosen storage, under the chosen binding."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from boundaries.users.port import UsersPort
from modules import users
from tests.contract.conftest import Bind
from tests.support.databases import Storage
from tests.support.wiring import wired


@pytest.fixture
async def users_port(storage: Storage, bind: Bind) -> AsyncIterator[UsersPort]:
    async with wired(storage, (users.MODULE,)) as container:
        port: UsersPort = bind("users", UsersPort, await container.get(UsersPort))
        yield port
