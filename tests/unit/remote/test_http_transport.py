"""HttpTransport against real HTTP servers on local sockets (see remote_testkit).

Each server runs the generic port router for a tiny EchoPort; tests count the calls each
instance served, kill and restart instances, and slow them down.
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

from boundaries._kernel.errors import NotFound, Unavailable
from twitterclone.logs import request_id_var
from twitterclone.registry import Instance
from twitterclone.remote.breaker import CircuitBreaker
from twitterclone.remote.client import remote_port
from twitterclone.remote.deadline import DEADLINE_HEADER, deadline_middleware, deadline_scope
from twitterclone.remote.http import HttpTransport
from twitterclone.remote.portspec import port_spec
from twitterclone.remote.server import PortServer, port_router
from twitterclone.remote.tracing import parse_traceparent, traceparent_var

TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def breakers(threshold: int = 2, base_s: float = 0.2) -> Callable[[], CircuitBreaker]:
    return lambda: CircuitBreaker(failure_threshold=threshold, base_backoff_s=base_s, jitter=0.0)


@pytest.fixture
async def fleet() -> AsyncIterator[Fleet]:
    f = await start_fleet(3)
    yield f
    await stop_fleet(f)


@pytest.fixture
async def make_transport(fleet: Fleet) -> AsyncIterator[Callable[..., HttpTransport]]:
    made: list[HttpTransport] = []

    def make(**kwargs: object) -> HttpTransport:
        kwargs.setdefault("refresh_interval_s", 0.1)
        # Hedging off unless a test is about it: on a busy machine a slow answer would get a
        # backup attempt, and the tests that count executions would count it.
        kwargs.setdefault("hedge_after_s", None)
        t = HttpTransport(None, fleet.registry, **kwargs)  # type: ignore[arg-type]
        made.append(t)
        return t

    yield make
    for t in made:
        await t.close()


def states(t: HttpTransport, service: str = MODULE) -> dict[str, str]:
    return {row.instance_id: row.state for row in t.snapshot() if row.service == service}


async def test_load_spreads_across_instances(
    fleet: Fleet, make_transport: Callable[..., HttpTransport]
) -> None:
    port = remote_port(MODULE, EchoPort, make_transport())
    for _ in range(15):
        answers = await asyncio.gather(*(port.whoami() for _ in range(10)))
        assert set(answers) <= {"echo-0", "echo-1", "echo-2"}
    hits = fleet.hits("whoami")
    assert sum(hits) == 150  # nothing retried, nothing lost
    assert min(hits) > 25, hits  # each instance got a fair share (50 expected)


async def test_sends_token_ids_trace_and_deadline(
    fleet: Fleet, make_transport: Callable[..., HttpTransport]
) -> None:
    transport = make_transport(token_for=lambda module: f"token-for-{module}")
    port = remote_port(MODULE, EchoPort, transport)
    rid = request_id_var.set("req-123")
    tp = traceparent_var.set(TRACE)
    try:
        with deadline_scope(5.0) as deadline:
            await port.whoami()
    finally:
        request_id_var.reset(rid)
        traceparent_var.reset(tp)
    headers = next(r.last for r in fleet.recorders if r.last)
    assert headers["authorization"] == "Bearer token-for-echo"
    assert headers["content-type"] == "application/msgpack"
    assert headers["x-request-id"] == "req-123"
    sent, parent = parse_traceparent(headers["traceparent"]), parse_traceparent(TRACE)
    assert sent is not None
    assert parent is not None
    assert sent.trace_id == parent.trace_id
    assert sent.parent_id != parent.parent_id  # a child span per outgoing call
    # default_timeout_s (2 s) is shorter than the 5 s left: the downstream gets the attempt's deadline
    assert deadline - 3100 < int(headers[DEADLINE_HEADER]) <= deadline - 2900


async def test_no_request_context_means_no_ids_sent(
    fleet: Fleet, make_transport: Callable[..., HttpTransport]
) -> None:
    await remote_port(MODULE, EchoPort, make_transport()).whoami()
    headers = next(r.last for r in fleet.recorders if r.last)
    assert "x-request-id" not in headers
    assert "traceparent" not in headers
    assert "authorization" not in headers


async def test_deadline_travels_to_the_next_hop(
    fleet: Fleet, make_transport: Callable[..., HttpTransport]
) -> None:
    port = remote_port(MODULE, EchoPort, make_transport(default_timeout_s=10.0))
    with deadline_scope(1.5):
        left = await port.deadline_left()
    assert 1.0 < left <= 1.5  # the server saw the caller's deadline, minus the trip


async def test_expired_deadline_is_refused_without_calling(
    fleet: Fleet, make_transport: Callable[..., HttpTransport]
) -> None:
    port = remote_port(MODULE, EchoPort, make_transport())
    await port.whoami()  # instances resolved, connections warm
    before = sum(s.total for s in fleet.services)
    with deadline_scope(0.0):
        started = time.perf_counter()
        with pytest.raises(Unavailable, match="deadline exceeded"):
            await port.whoami()
        assert time.perf_counter() - started < 0.2
    assert sum(s.total for s in fleet.services) == before


async def test_deadline_bounds_the_wait(fleet: Fleet, make_transport: Callable[..., HttpTransport]) -> None:
    port = remote_port(MODULE, EchoPort, make_transport(default_timeout_s=5.0))
    started = time.perf_counter()
    with deadline_scope(0.3), pytest.raises(Unavailable):
        await port.wait(seconds=3.0)
    assert time.perf_counter() - started < 1.5  # not the 3 s wait nor the 5 s timeout
    assert sum(fleet.hits("wait")) == 1  # no time left to retry elsewhere


async def test_a_long_poll_lasts_its_deadline_and_is_never_hedged(
    fleet: Fleet, make_transport: Callable[..., HttpTransport]
) -> None:
    # A wait that has nothing to say yet is not a slow instance: past the per-attempt cap (0.5 s
    # here) and the hedge delay it still answers, once, from one instance, with no breaker hurt.
    transport = make_transport(default_timeout_s=0.5, hedge_after_s=0.1)
    port = remote_port(MODULE, EchoPort, transport)
    with deadline_scope(5.0):
        assert (await port.long_wait(timeout_s=1.2)).startswith("echo-")
    assert sum(fleet.hits("long_wait")) == 1
    assert set(states(transport).values()) == {"closed"}
    # An ordinary idempotent call of the same length is cut at the cap (and hedged).
    with deadline_scope(5.0), pytest.raises(Unavailable):
        await port.wait(seconds=1.2)


async def test_killed_instance_idempotent_calls_keep_succeeding(
    fleet: Fleet, make_transport: Callable[..., HttpTransport]
) -> None:
    # A generous connect timeout: the fleet shares this test's event loop, and on a busy machine
    # a live instance once missed the default 0.5 s; this test is about ejection, not timing.
    transport = make_transport(breaker_factory=breakers(threshold=3, base_s=30), connect_timeout_s=2.0)
    port = remote_port(MODULE, EchoPort, transport)
    await asyncio.gather(*(port.whoami() for _ in range(30)))  # warm connections to all three
    await fleet.servers[0].kill()
    answers = [await port.whoami() for _ in range(60)]
    assert "echo-0" not in answers
    assert fleet.hits("whoami")[1] + fleet.hits("whoami")[2] >= 60
    assert states(transport)["echo-0"] == "open"  # passively ejected
    assert states(transport)["echo-1"] == states(transport)["echo-2"] == "closed"
    failures = {row.instance_id: row.failures for row in transport.snapshot()}
    assert failures["echo-0"] == 3  # after the breaker opened, nothing more was sent there


async def test_killed_instance_non_idempotent_calls_are_sent_once(
    fleet: Fleet, make_transport: Callable[..., HttpTransport]
) -> None:
    await fleet.servers[0].kill()  # before any call: connecting to it is refused
    transport = make_transport(breaker_factory=breakers(threshold=3, base_s=30))
    port = remote_port(MODULE, EchoPort, transport)
    results = [await port.create(name=f"n{i}") for i in range(30)]
    # a refused connection never reached a server, so even a non-idempotent call moves on
    assert len(results) == 30
    assert sum(fleet.hits("create")) == 30  # and no call was executed twice
    assert states(transport)["echo-0"] == "open"


async def test_non_idempotent_calls_are_not_retried_after_an_answer(
    fleet: Fleet, make_transport: Callable[..., HttpTransport]
) -> None:
    fleet.services[0].failing = True  # answers 503 to everything
    transport = make_transport(breaker_factory=breakers(threshold=1000))
    port = remote_port(MODULE, EchoPort, transport)
    errors = 0
    for i in range(40):
        try:
            await port.create(name=f"n{i}")
        except Unavailable:
            errors += 1
    hits = fleet.hits("create")
    assert sum(hits) == 40  # one server-side execution per call, none repeated
    assert errors == hits[0] > 0  # every call that reached the failing instance failed

    # the same failure for an idempotent method is retried elsewhere (until the breaker ejects it)
    port = remote_port(MODULE, EchoPort, make_transport())
    for _ in range(40):
        assert await port.whoami() in {"echo-1", "echo-2"}
    assert 0 < fleet.hits("whoami")[0] <= 5


async def test_4xx_is_never_retried_and_keeps_its_error_class(
    fleet: Fleet, make_transport: Callable[..., HttpTransport]
) -> None:
    transport = make_transport()
    port = remote_port(MODULE, EchoPort, transport)
    with pytest.raises(NotFound, match="nothing here"):
        await port.missing()
    assert sum(fleet.hits("missing")) == 1
    assert set(states(transport).values()) == {"closed"}  # a 4xx is an answer, not a failure


async def test_retry_budget_caps_retries_when_everything_fails(
    fleet: Fleet, make_transport: Callable[..., HttpTransport]
) -> None:
    for s in fleet.services:
        s.failing = True
    transport = make_transport(breaker_factory=breakers(threshold=10_000), retry_budget_ratio=0.2)
    port = remote_port(MODULE, EchoPort, transport)
    for _ in range(200):
        with pytest.raises(Unavailable):
            await port.whoami()
    total = sum(fleet.hits("whoami"))
    # up to 3 attempts per call without a budget (600); with it, 20 % extra + the starting reserve
    assert 200 < total <= 200 + 0.2 * 200 + 10
    (stats,) = transport.service_stats()
    assert stats.retries == total - 200
    assert stats.retries_refused > 0


async def test_all_instances_ejected_fails_fast(
    fleet: Fleet, make_transport: Callable[..., HttpTransport]
) -> None:
    transport = make_transport(breaker_factory=breakers(threshold=1, base_s=30))
    port = remote_port(MODULE, EchoPort, transport)
    await port.whoami()
    for server in fleet.servers:
        await server.kill()
    with pytest.raises(Unavailable, match="cannot connect"):
        await port.whoami()  # tries up to three instances, each refuses and is ejected
    assert set(states(transport).values()) == {"open"}
    failures = [row.failures for row in transport.snapshot()]
    started = time.perf_counter()
    with pytest.raises(Unavailable, match="circuit open"):
        await port.whoami()
    assert time.perf_counter() - started < 0.2
    assert [row.failures for row in transport.snapshot()] == failures  # no instance was even tried


async def test_slow_instance_and_concurrency_cap_give_fast_503s(
    fleet: Fleet, make_transport: Callable[..., HttpTransport]
) -> None:
    transport = make_transport(max_concurrency=4, default_timeout_s=5.0)
    port = remote_port(MODULE, EchoPort, transport)
    await port.whoami()
    slow = [asyncio.create_task(port.wait(seconds=2.0)) for _ in range(4)]
    async with asyncio.timeout(2):
        while sum(fleet.hits("wait")) < 4:  # noqa: ASYNC110 - polling a counter the server bumps
            await asyncio.sleep(0.01)
    started = time.perf_counter()
    for _ in range(10):
        with pytest.raises(Unavailable, match="too many concurrent calls to echo"):
            await port.whoami()
    assert time.perf_counter() - started < 0.5  # refused at once, not queued behind 2 s calls
    (stats,) = transport.service_stats()
    assert stats.rejected == 10
    assert stats.in_flight == 4
    for task in slow:
        task.cancel()
    await asyncio.gather(*slow, return_exceptions=True)
    assert await port.whoami()  # capacity is back once the slow calls are gone
    assert transport.service_stats()[0].in_flight == 0
    assert all(row.in_flight == 0 for row in transport.snapshot())


async def test_an_instance_that_comes_back_is_probed_and_used_again(
    fleet: Fleet, make_transport: Callable[..., HttpTransport]
) -> None:
    transport = make_transport(breaker_factory=breakers(threshold=2, base_s=0.3))
    port = remote_port(MODULE, EchoPort, transport)
    await fleet.servers[2].kill()
    for _ in range(30):
        await port.whoami()
    assert states(transport)["echo-2"] == "open"
    await fleet.servers[2].start()  # same address, back in service
    await asyncio.sleep(0.35)  # the backoff passes
    for _ in range(60):
        await port.whoami()
    assert states(transport)["echo-2"] == "closed"
    assert fleet.hits("whoami")[2] > 5  # it takes its share again


async def test_registry_changes_are_noticed_without_restart(
    fleet: Fleet, make_transport: Callable[..., HttpTransport]
) -> None:
    await fleet.registry.deregister(fleet.instance(1))
    await fleet.registry.deregister(fleet.instance(2))
    transport = make_transport()
    port = remote_port(MODULE, EchoPort, transport)
    assert {await port.whoami() for _ in range(10)} == {"echo-0"}
    await fleet.registry.register(fleet.instance(1))
    await asyncio.sleep(0.25)  # two refresh intervals
    assert {await port.whoami() for _ in range(40)} == {"echo-0", "echo-1"}
    await fleet.registry.deregister(fleet.instance(0))
    await asyncio.sleep(0.25)
    assert {await port.whoami() for _ in range(20)} == {"echo-1"}
    assert [row.instance_id for row in transport.snapshot()] == ["echo-1"]


async def test_no_registered_instance_is_unavailable(fleet: Fleet) -> None:
    for i in range(3):
        await fleet.registry.deregister(fleet.instance(i))
    transport = HttpTransport(lambda module: "elsewhere", fleet.registry)
    try:
        with pytest.raises(Unavailable, match="no instance of elsewhere"):
            await remote_port(MODULE, EchoPort, transport).whoami()
    finally:
        await transport.close()
    with pytest.raises(Unavailable, match="closed"):
        await transport.call(MODULE, "whoami", b"", idempotent=True)


async def test_instance_metadata_change_keeps_breaker_state(
    fleet: Fleet, make_transport: Callable[..., HttpTransport]
) -> None:
    transport = make_transport(breaker_factory=breakers(threshold=1, base_s=30))
    port = remote_port(MODULE, EchoPort, transport)
    await port.whoami()
    await fleet.servers[0].kill()
    # The balancer picks echo-0 for a call with probability 1/3, so ten calls missed it 1.7 % of
    # the time; call until it has been tried (200 calls miss it with probability ~1e-35).
    for _ in range(200):
        await port.whoami()
        if states(transport)["echo-0"] == "open":
            break
    assert states(transport)["echo-0"] == "open"
    old = fleet.instance(0)
    await fleet.registry.register(
        Instance(service=old.service, instance_id=old.instance_id, address=old.address, meta={"v": "2"})
    )
    await asyncio.sleep(0.25)
    assert states(transport)["echo-0"] == "open"  # same address: what we learned still holds


# -- issue 16: a dependency's outage, and a hung instance -----------------------------------------
# A healthy instance that answers 503 because *its* dependency is down is not ejected by its
# callers (finding 2); a hung instance (it accepts connections and never answers, like a
# SIGSTOPped process) costs a hedge delay when another instance exists, and alone one attempt
# timeout before its breaker fails calls fast (finding 5).

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


async def test_a_dependency_outage_does_not_eject_its_healthy_callers(
    fleet: Fleet, make_transport: Callable[..., HttpTransport]
) -> None:
    fronts: list[SocketServer] = []
    downstream = make_transport(breaker_factory=breakers(base_s=0.1))
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
        caller = make_transport(breaker_factory=breakers(base_s=30))
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
    fleet: Fleet, make_transport: Callable[..., HttpTransport]
) -> None:
    transport = make_transport(hedge_after_s=0.25, breaker_factory=breakers(threshold=3, base_s=30))
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
    fleet: Fleet, make_transport: Callable[..., HttpTransport]
) -> None:
    for i in (1, 2):
        await fleet.registry.deregister(fleet.instance(i))
    transport = make_transport(default_timeout_s=1.0, breaker_factory=breakers(threshold=2, base_s=30))
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
