"""Reading what the deployment already knows, once: one ``Sample`` of every process.

Nothing here keeps its own count of anything. A sample is made of:

- each process's Prometheus metrics: the gateway's own registry and runtime figures, read in
  this process (they are not on its public ``/metrics``), and
  every service instance's ``/metrics``, fetched over HTTP (with this process's client
  certificate when the deployment uses mutual TLS). They carry request counts and latency
  histograms (Litestar's Prometheus middleware), fan-out lag (the timeline module), and each
  process's breakers, retry budgets and outbox backlog (``twitterclone.runtime_metrics``);
- the registry: which instances of each service are registered (heartbeating) now;
- the event streams, when events travel through Redis: each consumer group's lag and pending
  entries, and the length of its dead-letter stream.

The instances are those the manifest declares (replicas from their port upward) together with
those the registry knows (a platform may run others), so a killed replica still shows: as down.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
from prometheus_client import REGISTRY
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from twitterclone.composition import GATEWAY, Runtime
from twitterclone.infra.streams import deadletter_key, stream_backlog
from twitterclone.manifest import MODULE_NAMES
from twitterclone.registry.base import Instance
from twitterclone.runtime_metrics import RuntimeMetrics

#: Requests that are housekeeping, not work: left out of request rates and latency.
HOUSEKEEPING = ("/metrics", "/livez", "/readyz", "/ops", "/schema")

#: How long one instance's metrics may take before it counts as unreachable.
SCRAPE_TIMEOUT_S = 0.8


@dataclass(frozen=True, slots=True)
class Breaker:
    """One caller's circuit breaker for one downstream instance."""

    service: str
    address: str
    state: str
    failures: float


@dataclass(frozen=True, slots=True)
class Budget:
    """One caller's retry budget towards one downstream service."""

    service: str
    calls: float
    retries: float
    refused: float
    tokens: float
    capacity: float


@dataclass(slots=True)
class ProcessReading:
    """One process's figures at one moment (counters are totals since the process started)."""

    role: str
    address: str
    reachable: bool = True
    error: str = ""
    requests: float = 0.0
    errors: float = 0.0
    #: request latency histogram: cumulative count per upper bound (seconds)
    latency: dict[float, float] = field(default_factory=dict)
    fanout: dict[float, float] = field(default_factory=dict)
    breakers: list[Breaker] = field(default_factory=list)
    budgets: list[Budget] = field(default_factory=list)
    outbox: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StreamGroup:
    """One consumer group on the event streams."""

    group: str
    lag: int | None
    pending: int
    dead_letters: int


@dataclass(slots=True)
class Sample:
    """Everything read at one moment."""

    at: float
    processes: dict[tuple[str, str], ProcessReading]
    registered: dict[str, set[str]]
    registry_error: str = ""
    streams: list[StreamGroup] | None = None
    streams_error: str = ""
    #: chart points derived from this sample and an earlier one, computed once (ops/view.py)
    points: dict[str, float | None] = field(default_factory=dict)


def _housekeeping(path: str) -> bool:
    return path.startswith(HOUSEKEEPING)


def read_families(role: str, address: str, families: Iterable[Metric]) -> ProcessReading:
    """Reduce one process's metric families to the figures the ops view shows."""
    reading = ProcessReading(role=role, address=address)
    breaker_failures: dict[tuple[str, str], float] = {}
    states: dict[tuple[str, str], str] = {}
    budgets: dict[str, dict[str, float]] = {}
    for family in families:
        for s in family.samples:
            name, labels, value = s.name, s.labels, s.value
            if name == "twitterclone_requests_total":
                if _housekeeping(labels.get("path", "")):
                    continue
                reading.requests += value
                if labels.get("status_code", "").startswith("5"):
                    reading.errors += value
            elif name == "twitterclone_request_duration_seconds_bucket":
                if not _housekeeping(labels.get("path", "")):
                    le = float(labels["le"])
                    reading.latency[le] = reading.latency.get(le, 0.0) + value
            elif name == "twitterclone_fanout_lag_seconds_bucket":
                le = float(labels["le"])
                reading.fanout[le] = reading.fanout.get(le, 0.0) + value
            elif name == "twitterclone_remote_breaker_state" and value == 1:
                states[(labels["service"], labels["address"])] = labels["state"]
            elif name == "twitterclone_remote_attempts_total" and labels.get("outcome") == "failure":
                breaker_failures[(labels["service"], labels["address"])] = value
            elif name in _BUDGET_SAMPLES:
                budgets.setdefault(labels["service"], {})[_BUDGET_SAMPLES[name]] = value
            elif name == "twitterclone_outbox_backlog":
                reading.outbox[labels["module"]] = value
    reading.breakers = [
        Breaker(service=svc, address=addr, state=state, failures=breaker_failures.get((svc, addr), 0.0))
        for (svc, addr), state in sorted(states.items())
    ]
    reading.budgets = [
        Budget(
            service=svc,
            calls=b.get("calls", 0.0),
            retries=b.get("retries", 0.0),
            refused=b.get("refused", 0.0),
            tokens=b.get("tokens", 0.0),
            capacity=b.get("capacity", 0.0),
        )
        for svc, b in sorted(budgets.items())
    ]
    return reading


_BUDGET_SAMPLES = {
    "twitterclone_remote_calls_total": "calls",
    "twitterclone_remote_retries_total": "retries",
    "twitterclone_remote_retries_refused_total": "refused",
    "twitterclone_retry_budget_tokens": "tokens",
    "twitterclone_retry_budget_capacity": "capacity",
}


def expected_instances(runtime: Runtime) -> dict[str, list[str]]:
    """Addresses of every service's replicas as the manifest declares them."""
    manifest = runtime.manifest
    expected: dict[str, list[str]] = {}
    for module in MODULE_NAMES:
        cfg = manifest.module(module)
        if cfg.placement == "remote" and cfg.port is not None:
            expected[module] = [f"{cfg.host}:{cfg.port + i}" for i in range(cfg.replicas)]
    return expected


class Reader:
    """Takes samples of one deployment, from inside its gateway process."""

    def __init__(self, runtime: Runtime, own: RuntimeMetrics | None, client: httpx.AsyncClient) -> None:
        self.runtime = runtime
        self.own = own
        self.client = client
        self.scheme = "https" if runtime.manifest.security.mtls else "http"
        gw = runtime.manifest.gateway
        self.gateway_address = f"{gw.host}:{gw.port}"

    async def sample(self) -> Sample:
        registered, registry_error = await self._registered()
        expected = expected_instances(self.runtime)
        targets = [
            (service, address)
            for service in sorted(set(expected) | set(registered))
            if service != GATEWAY and service not in self.runtime.local_modules
            for address in sorted(set(expected.get(service, [])) | registered.get(service, set()))
        ]
        own, remote, streams = await asyncio.gather(
            self._own(),
            asyncio.gather(*(self._scrape(service, address) for service, address in targets)),
            self._streams(),
        )
        processes = {(r.role, r.address): r for r in (own, *remote)}
        sample = Sample(
            at=time.time(), processes=processes, registered=registered, registry_error=registry_error
        )
        sample.streams, sample.streams_error = streams
        return sample

    async def _registered(self) -> tuple[dict[str, set[str]], str]:
        services = [m for m in self.runtime.manifest.remote_modules]
        found: dict[str, set[str]] = {}
        errors: list[str] = []

        async def one(service: str) -> None:
            try:
                instances: list[Instance] = await self.runtime.registry.resolve(service)
            except Exception as exc:  # the registry is down or lost its state: say so, show the rest
                errors.append(f"{service}: {type(exc).__name__}")
                return
            found[service] = {i.address for i in instances}

        await asyncio.gather(*(one(s) for s in services))
        return found, "; ".join(sorted(errors))

    async def _own(self) -> ProcessReading:
        families = list(REGISTRY.collect())
        if self.own is not None:
            await self.own.refresh()
            families += self.own.collect()
        return read_families(GATEWAY, self.gateway_address, families)

    async def _scrape(self, service: str, address: str) -> ProcessReading:
        try:
            response = await self.client.get(
                f"{self.scheme}://{address}/metrics", timeout=httpx.Timeout(SCRAPE_TIMEOUT_S)
            )
            response.raise_for_status()
        except httpx.HTTPError as exc:
            return ProcessReading(role=service, address=address, reachable=False, error=type(exc).__name__)
        return read_families(service, address, text_string_to_metric_families(response.text))

    async def _streams(self) -> tuple[list[StreamGroup] | None, str]:
        runtime = self.runtime
        if runtime.manifest.events.transport != "redis-streams" or not runtime.kernel.has_redis:
            return None, ""
        redis, prefix = runtime.kernel.redis, runtime.kernel.key_prefix
        try:
            backlog = await stream_backlog(redis, prefix)
            groups = sorted(backlog)
            lengths: list[Any] = await asyncio.gather(
                *(redis.xlen(deadletter_key(prefix, g)) for g in groups)
            )
        except Exception as exc:  # Redis down: the view says so instead of failing
            return None, f"{type(exc).__name__}: {exc}"
        return [
            StreamGroup(group=g, lag=backlog[g].lag, pending=backlog[g].pending, dead_letters=int(n))
            for g, n in zip(groups, lengths, strict=True)
        ], ""


def quantile(q: float, before: dict[float, float], after: dict[float, float]) -> float | None:
    """The ``q`` quantile of the observations between two readings of a cumulative histogram.

    Linear interpolation inside the bucket, as Prometheus's ``histogram_quantile`` does; None
    when nothing was observed. A counter reset (the process restarted) counts from zero.
    """
    bounds = sorted(after)
    if not bounds:
        return None
    reset = after.get(math.inf, 0.0) < before.get(math.inf, 0.0)
    counts = [after[b] - (0.0 if reset else before.get(b, 0.0)) for b in bounds]
    total = counts[-1]
    if total <= 0:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for bound, cumulative in zip(bounds, counts, strict=True):
        if cumulative >= rank:
            if math.isinf(bound):
                return lower  # beyond the last finite bucket: its lower edge is all we know
            inside = cumulative - below
            fraction = 0.0 if inside <= 0 else (rank - below) / inside
            return lower + (bound - lower) * fraction
        lower, below = bound, cumulative
    return lower
