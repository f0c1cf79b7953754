"""What one process knows about the system right now, on its ``/metrics``.

Each process already keeps, for its own use, the state an operator wants to see: the HTTP
transport's circuit breaker and calls in flight per downstream instance, its retry budget per
downstream service, and its modules' outboxes. ``RuntimeMetrics`` is a Prometheus collector
that reads that state when scraped (no copy is kept anywhere): the ops view (gateway/ops) and
any Prometheus server read it from the same endpoint. The outbox backlog is a database count,
so the ``/metrics`` handler refreshes it (one indexed COUNT per local module) before rendering.

Metrics (all labelled by the downstream ``service``; per instance also ``instance``/``address``):

- ``twitterclone_remote_breaker_state{state=closed|half-open|open}``: 1 for the current state;
- ``twitterclone_remote_in_flight``; ``twitterclone_remote_attempts_total{outcome=success|failure}``;
- ``twitterclone_remote_calls_total`` (first attempts), ``twitterclone_remote_retries_total``,
  ``twitterclone_remote_retries_refused_total``, ``twitterclone_retry_budget_tokens`` and
  ``twitterclone_retry_budget_capacity`` (a budget in use has fewer tokens than its capacity);
- ``twitterclone_outbox_backlog{module}``: rows not yet handed to the event transport;
- ``twitterclone_process_info{role}``: which service this process is (1).

Service processes publish these on their ``/metrics`` (their internal port). The gateway does
not: its ``/metrics`` is on the public port, and instance addresses and breaker states are the
deployment's internals; the ops view reads the gateway's own figures in its process.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from litestar import Controller, Request, Response, get
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from twitterclone.composition import Runtime
from twitterclone.remote.breaker import BreakerState

log = logging.getLogger("twitterclone.metrics")

BREAKER_STATES = tuple(str(s) for s in BreakerState)


class RuntimeMetrics:
    """The figures of one process's runtime (installed for the life of its app)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.outbox: dict[str, int] = {}

    async def refresh(self) -> None:
        """Count each local module's unpublished outbox rows (the only figure that needs I/O)."""
        for relay in self.runtime.relays:
            try:
                self.outbox[relay.store.module] = await relay.backlog()
            except Exception:  # a store that cannot answer: leave the figure out rather than fail
                self.outbox.pop(relay.store.module, None)
                log.warning("could not count the outbox", extra={"module": relay.store.module})

    def collect(self) -> Iterable[Metric]:
        info = GaugeMetricFamily(
            "twitterclone_process_info", "Which service this process is.", labels=["role"]
        )
        info.add_metric([self.runtime.role], 1)
        yield info
        outbox = GaugeMetricFamily(
            "twitterclone_outbox_backlog", "Outbox rows not yet published.", labels=["module"]
        )
        for module, rows in sorted(self.outbox.items()):
            outbox.add_metric([module], rows)
        yield outbox
        transport = self.runtime.transport
        if transport is None:
            return
        per_instance = ["service", "instance", "address"]
        state = GaugeMetricFamily(
            "twitterclone_remote_breaker_state",
            "Circuit breaker of each downstream instance (1 for its current state).",
            labels=[*per_instance, "state"],
        )
        in_flight = GaugeMetricFamily(
            "twitterclone_remote_in_flight", "Calls in flight per downstream instance.", labels=per_instance
        )
        attempts = CounterMetricFamily(
            "twitterclone_remote_attempts",
            "Attempts per downstream instance, by outcome.",
            labels=[*per_instance, "outcome"],
        )
        for ep in transport.snapshot():
            labels = [ep.service, ep.instance_id, ep.address]
            for name in BREAKER_STATES:
                state.add_metric([*labels, name], 1.0 if ep.state == name else 0.0)
            in_flight.add_metric(labels, ep.in_flight)
            attempts.add_metric([*labels, "success"], ep.successes)
            attempts.add_metric([*labels, "failure"], ep.failures)
        yield state
        yield in_flight
        yield attempts
        calls = CounterMetricFamily(
            "twitterclone_remote_calls", "Calls per downstream service.", labels=["service"]
        )
        retries = CounterMetricFamily(
            "twitterclone_remote_retries", "Retries paid from the retry budget.", labels=["service"]
        )
        refused = CounterMetricFamily(
            "twitterclone_remote_retries_refused", "Retries the spent budget refused.", labels=["service"]
        )
        tokens = GaugeMetricFamily("twitterclone_retry_budget_tokens", "Retries left.", labels=["service"])
        capacity = GaugeMetricFamily(
            "twitterclone_retry_budget_capacity", "The retry budget's size.", labels=["service"]
        )
        for s in transport.service_stats():
            calls.add_metric([s.service], s.calls)
            retries.add_metric([s.service], s.retries)
            refused.add_metric([s.service], s.retries_refused)
            tokens.add_metric([s.service], s.budget_tokens)
            capacity.add_metric([s.service], s.budget_cap)
        yield from (calls, retries, refused, tokens, capacity)


class _Installed(Collector):
    """The one collector in the default registry: every installed runtime's figures.

    A server process has one runtime; tests build several apps in one process, and two
    collectors with the same metric names could not both be registered.
    """

    def __init__(self) -> None:
        self.runtimes: list[RuntimeMetrics] = []

    def collect(self) -> Iterable[Metric]:
        for runtime in list(self.runtimes):
            yield from runtime.collect()


_INSTALLED = _Installed()
REGISTRY.register(_INSTALLED)


def install(runtime: Runtime) -> RuntimeMetrics:
    """Publish ``runtime``'s figures on this process's /metrics (until ``uninstall``)."""
    figures = RuntimeMetrics(runtime)
    _INSTALLED.runtimes.append(figures)
    return figures


def uninstall(figures: RuntimeMetrics) -> None:
    if figures in _INSTALLED.runtimes:
        _INSTALLED.runtimes.remove(figures)


class MetricsController(Controller):
    """``/metrics`` in the Prometheus text format, with the runtime's figures fresh."""

    path = "/metrics"
    include_in_schema = False

    @get(operation_id="metrics", summary="Prometheus metrics of this process")
    async def metrics(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        figures: RuntimeMetrics | None = getattr(request.app.state, "runtime_metrics", None)
        if figures is not None and figures in _INSTALLED.runtimes:
            await figures.refresh()
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
