"""The ``tweets_port`` fixture: the real tweets module on the chosen storage, under the chosen binding.

The users and media modules are the real ones too (their ports are what tweets calls); only
the tweets port is bound as the test chose.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from dishka import AsyncContainer

from boundaries.tweets.port import TweetsPort
from boundaries.users.dto import Register
from boundaries.users.port import UsersPort
from modules import media, tweets, users
from tests.contract.conftest import Bind
from tests.support.databases import Storage
from tests.support.wiring import wired

MODULES = (users.MODULE, tweets.MODULE, media.MODULE)


@pytest.fixture
async def container(storage: Storage) -> AsyncIterator[AsyncContainer]:
    async with wired(storage, MODULES) as c:
        yield c


@pytest.fixture
async def tweets_port(container: AsyncContainer, bind: Bind) -> TweetsPort:
    port: TweetsPort = bind("tweets", TweetsPort, await container.get(TweetsPort))
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
