"""The ``notifications_port`` fixture: the real module (and the users module it asks) on the chosen
storage, under the chosen binding. ``deliver`` hands an event to the module's consumer, as the relay does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from dishka import AsyncContainer

from boundaries.notifications.port import NotificationsPort
from boundaries.users.dto import Register
from boundaries.users.port import UsersPort
from modules import media, notifications, users
from tests.contract.conftest import Bind
from tests.support.databases import Storage
from tests.support.wiring import Deliver, deliverer, wired


@pytest.fixture
async def container(storage: Storage) -> AsyncIterator[AsyncContainer]:
    async with wired(storage, (users.MODULE, media.MODULE, notifications.MODULE)) as c:
        yield c


@pytest.fixture
async def notifications_port(container: AsyncContainer, bind: Bind) -> NotificationsPort:
    port: NotificationsPort = bind("notifications", NotificationsPort, await container.get(NotificationsPort))
    return port


@pytest.fixture
async def deliver(container: AsyncContainer) -> Deliver:
    return await deliverer(container, notifications.MODULE)


@dataclass(frozen=True)
class People:
    ann: str
    ben: str
    cat: str


@pytest.fixture
async def people(container: AsyncContainer) -> People:
    """Three registered accounts (the module asks the users port about actors)."""
    port: UsersPort = await container.get(UsersPort)
    ids = []
    for handle in ("ann", "ben", "cat"):
        account = await port.register(
            Register(handle=handle, email=f"{handle}@example.org", password="correct horse battery")
        )
        ids.append(account.profile.id)
    return People(*ids)
