"""The transport under the faults of issue 16: a dependency's outage, and a hung instance.

- A healthy instance that answers 503 because *its* dependency is down is not ejected by its
  callers (finding 2): its breaker stays closed, and it serves again the moment the dependency
  is back.
- A hung instance (it accepts connections and never answers, like a SIGSTOPped process) costs a
  hedge delay, not a deadline, when another instance exists; alone, it costs one attempt timeout
  and then its breaker fails calls fast (finding 5).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import pytest
from litestar import Litestar
from remote_testkit import MODULE, EchoPort, Fleet, SocketServer, start_fleet, stop_fleet

from boundaries._kernel.errors import Unavailable
from twitterclone.registry import Instance
from twitterclone.remote.breaker import CircuitBreaker
from twitterclone.remote.client import remote_port
from twitterclone.remote.deadline import deadline_middleware, deadline_scope
from twitterclone.remote.http import HttpTransport
from twitterclone.remote.portspec import port_spec
from twitterclone.remote.server import PortServer, port_router

FRONT = "front"


class FrontPort(Protocol):
    """A port whose every call asks the echo port (as timeline asks tweets)."""

    async def relay(self) -> str:
        """Who answered downstream (idempotent)."""
        ...


@dataclass
class FrontService:
    name: str
    echo: Any
    hits: list[str] = field(default_factory=list)

    async def relay(self) -> str:
        self.hits.append("relay")
        answer: str = await self.echo.whoami()
        return f"{self.name}>{answer}"


def breakers(threshold: int = 2, base_s: float = 30.0) -> Callable[[], CircuitBreaker]:
    return lambda: CircuitBreaker(failure_threshold=threshold, base_backoff_s=base_s, jitter=0.0)


@pytest.fixture
async def fleet() -> AsyncIterator[Fleet]:
    f = await start_fleet(3)
    yield f
    await stop_fleet(f)


@pytest.fixture
async def transports() -> AsyncIterator[Callable[..., HttpTransport]]:
    made: list[HttpTransport] = []

    def make(registry: Any, **kwargs: Any) -> HttpTransport:
        kwargs.setdefault("refresh_interval_s", 0.1)
        t = HttpTransport(None, registry, **kwargs)
        made.append(t)
        return t

    yield make
    for t in made:
        await t.close()


def states(t: HttpTransport, service: str) -> dict[str, str]:
    return {row.instance_id: row.state for row in t.snapshot() if row.service == service}


async def test_a_dependency_outage_does_not_eject_its_healthy_callers(
    fleet: Fleet, transports: Callable[..., HttpTransport]
) -> None:
    fronts: list[SocketServer] = []
    downstream = transports(fleet.registry, breaker_factory=breakers(base_s=0.1))
    for i in range(2):
        server = PortServer()
        server.add(
            port_spec(FRONT, FrontPort), FrontService(f"front-{i}", remote_port(MODULE, EchoPort, downstream))
        )
        app = Litestar(route_handlers=[port_router(server)], middleware=[deadline_middleware])
        socket_server = SocketServer(app)
        await socket_server.start()
        fronts.append(socket_server)
        instance = Instance(service=FRONT, instance_id=f"front-{i}", address=socket_server.address)
        await fleet.registry.register(instance)
    try:
        caller = transports(fleet.registry, breaker_factory=breakers())
        front = remote_port(FRONT, FrontPort, caller)
        assert ">echo-" in await front.relay()
        for server_ in fleet.servers:  # the dependency goes down
            await server_.kill()
        for _ in range(12):
            with pytest.raises(Unavailable):
                await front.relay()
        # the fronts answered every time: none of them is ejected, nor was any call sent twice
        assert set(states(caller, FRONT).values()) == {"closed"}
        assert all(row.failures == 0 for row in caller.snapshot() if row.service == FRONT)
        for server_ in fleet.servers:  # the dependency is back
            await server_.start()
        await asyncio.sleep(0.5)  # the fronts' own breakers on echo are past their backoff
        for _ in range(10):
            assert ">echo-" in await front.relay()  # at once: no front waits out a backoff
    finally:
        for s in fronts:
            await s.kill()


async def test_a_hung_replica_costs_a_hedge_delay_not_a_deadline(
    fleet: Fleet, transports: Callable[..., HttpTransport]
) -> None:
    transport = transports(fleet.registry, breaker_factory=breakers(threshold=3))
    port = remote_port(MODULE, EchoPort, transport)
    await asyncio.gather(*(port.whoami() for _ in range(12)))
    fleet.services[0].delay_s = 60.0  # accepts and never answers, like a SIGSTOPped process
    slowest = 0.0
    answers: list[str] = []
    for _ in range(30):
        started = time.perf_counter()
        with deadline_scope(5.0):
            answers.append(await port.whoami())
        slowest = max(slowest, time.perf_counter() - started)
    assert "echo-0" not in answers
    assert slowest < 1.0, f"a call waited {slowest:.2f}s on the hung instance"
    assert states(transport, MODULE)["echo-0"] == "open"  # slow attempts count as its failures


async def test_a_hung_single_instance_costs_one_attempt_timeout_then_fails_fast(
    fleet: Fleet, transports: Callable[..., HttpTransport]
) -> None:
    for i in (1, 2):
        await fleet.registry.deregister(fleet.instance(i))
    transport = transports(fleet.registry, default_timeout_s=1.0, breaker_factory=breakers(threshold=2))
    port = remote_port(MODULE, EchoPort, transport)
    assert await port.whoami() == "echo-0"
    fleet.services[0].delay_s = 60.0
    took: list[float] = []
    for _ in range(4):
        started = time.perf_counter()
        with deadline_scope(5.0), pytest.raises(Unavailable):
            await port.whoami()
        took.append(time.perf_counter() - started)
    assert max(took) < 1.6, f"calls took {took}: the whole deadline, not one attempt"
    assert took[-1] < 0.1, "the breaker should fail calls fast once the instance timed out"
    assert states(transport, MODULE)["echo-0"] == "open"
