"""The ``analytics_port`` fixture: the real analytics module on the chosen storage, under the chosen
binding. ``deliver`` hands an event to the module's consumer, as the relay does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from dishka import AsyncContainer

from boundaries.analytics.port import AnalyticsPort
from modules import analytics
from tests.contract.conftest import Bind
from tests.support.databases import Storage
from tests.support.wiring import Deliver, deliverer, wired


@pytest.fixture
async def container(storage: Storage) -> AsyncIterator[AsyncContainer]:
    async with wired(storage, (analytics.MODULE,)) as c:
        yield c


@pytest.fixture
async def analytics_port(container: AsyncContainer, bind: Bind) -> AnalyticsPort:
    port: AnalyticsPort = bind("analytics", AnalyticsPort, await container.get(AnalyticsPort))
    return port


@pytest.fixture
async def deliver(container: AsyncContainer) -> Deliver:
    return await deliverer(container, analytics.MODULE)
