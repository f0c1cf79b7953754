"""From samples to what the ops page shows: the picture, per-service figures, the event pipeline.

Every figure is a difference between two samples of counters the processes keep (rates over
the last ``WINDOW_S`` seconds, quantiles of the histogram buckets filled in that time), or a
gauge as last read. Charts plot the same figure at every sample of the history.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from twitterclone.composition import GATEWAY, Runtime, port_dependencies
from twitterclone.gateway.ops.picture import ModuleBox, Picture, ReplicaRow, lay_out, lay_out_column
from twitterclone.gateway.ops.readings import ProcessReading, Sample, StreamGroup, quantile
from twitterclone.manifest import MODULE_NAMES

#: Rates and quantiles in the headline figures cover this much time.
WINDOW_S = 5.0
#: Fan-out happens per post, far less often than requests: a longer window for its quantiles.
FANOUT_WINDOW_S = 30.0
#: Each point of a chart covers this many samples (smoother than second to second).
CHART_SPAN = 5

_BREAKER_RANK = {"closed": 0, "half-open": 1, "open": 2}


@dataclass(frozen=True, slots=True)
class Chart:
    """A small line chart: SVG polyline points in a ``width`` by ``height`` box, and its scale."""

    points: str
    width: int
    height: int
    peak: str
    label: str


@dataclass(slots=True)
class ServiceFigures:
    name: str
    replicas_up: int
    replicas: int
    rps: float | None
    error_pct: float | None
    p50_ms: float | None
    p99_ms: float | None
    rps_chart: Chart
    p99_chart: Chart
    error_chart: Chart


@dataclass(frozen=True, slots=True)
class BreakerRow:
    caller: str
    service: str
    address: str
    state: str
    failures: int


@dataclass(frozen=True, slots=True)
class BudgetRow:
    caller: str
    service: str
    calls_per_s: float | None
    retries_per_s: float | None
    refused: int
    tokens: float
    capacity: float

    @property
    def use_pct(self) -> float:
        """How much of the budget is spent now (tokens below capacity)."""
        return 0.0 if self.capacity <= 0 else 100.0 * (1 - self.tokens / self.capacity)


@dataclass(slots=True)
class Pipeline:
    transport: str
    outbox: list[tuple[str, str, int]]  # (module, where, rows waiting)
    outbox_chart: Chart
    streams: list[StreamGroup] | None
    streams_note: str
    lag_chart: Chart | None
    fanout_p50_ms: float | None
    fanout_p99_ms: float | None
    fanout_chart: Chart


@dataclass(slots=True)
class OpsView:
    manifest: str
    shape: str  # monolith | split | hybrid
    updated: str
    span_s: int
    picture: Picture
    column: Picture  # the same, for a phone-width screen
    services: list[ServiceFigures]
    breakers: list[BreakerRow]
    budgets: list[BudgetRow]
    pipeline: Pipeline
    notes: list[str] = field(default_factory=list)


def shape_of(runtime: Runtime) -> str:
    remote = runtime.manifest.remote_modules
    if not remote:
        return "monolith"
    return "split" if len(remote) == len(MODULE_NAMES) else "hybrid"


def build_view(runtime: Runtime, samples: Sequence[Sample]) -> OpsView:
    """The page's content from the samples so far (the last one is now)."""
    _derive_points(runtime, samples)
    last = samples[-1]
    before = _at_or_before(samples, last.at - WINDOW_S)
    calls = _calls()
    picture = lay_out(_boxes(runtime, last), calls)
    services = [_service(name, picture, samples, before, last) for name in _services(runtime)]
    notes = []
    if last.registry_error:
        notes.append(f"registry did not answer for {last.registry_error}")
    return OpsView(
        manifest=runtime.manifest.name,
        shape=shape_of(runtime),
        updated=time.strftime("%H:%M:%S", time.localtime(last.at)),
        span_s=int(last.at - samples[0].at),
        picture=picture,
        column=lay_out_column(_boxes(runtime, last), calls),
        services=services,
        breakers=_breakers(last),
        budgets=_budgets(before, last),
        pipeline=_pipeline(runtime, samples),
        notes=notes,
    )


def _derive_points(runtime: Runtime, samples: Sequence[Sample]) -> None:
    """Each sample's chart points, against the sample ``CHART_SPAN`` before it (once per sample)."""
    for i, b in enumerate(samples):
        if b.points:
            continue
        a = samples[max(0, i - CHART_SPAN)]
        points: dict[str, float | None] = {}
        for name in _services(runtime):
            rps = _rate(name, a, b, lambda r: r.requests)
            err = _rate(name, a, b, lambda r: r.errors)
            points[f"{name}:rps"] = rps
            points[f"{name}:err"] = None if not rps or err is None else 100 * err / rps
            points[f"{name}:p99"] = _ms(quantile(0.99, {}, _buckets(name, a, b, lambda r: r.latency)))
        fan_from = samples[max(0, i - 2 * CHART_SPAN)]
        points["fanout:p99"] = _ms(quantile(0.99, {}, _buckets(None, fan_from, b, lambda r: r.fanout)))
        points["outbox"] = float(sum(_outbox(runtime, b).values()))
        points["streams:lag"] = None if b.streams is None else float(sum(g.lag or 0 for g in b.streams))
        b.points = points


@functools.cache
def _calls() -> dict[str, tuple[str, ...]]:
    return port_dependencies()  # what the code declares: it does not change while running


def _services(runtime: Runtime) -> list[str]:
    return [GATEWAY, *runtime.manifest.remote_modules]


def _boxes(runtime: Runtime, last: Sample) -> dict[str, ModuleBox]:
    worst: dict[tuple[str, str], str] = {}
    for reading in last.processes.values():
        for b in reading.breakers:
            key = (b.service, b.address)
            if _BREAKER_RANK.get(b.state, 0) > _BREAKER_RANK.get(worst.get(key, "closed"), 0):
                worst[key] = b.state
    boxes = {}
    for module in MODULE_NAMES:
        if module in runtime.manifest.local_modules:
            boxes[module] = ModuleBox(module=module, process=GATEWAY)
            continue
        rows = []
        for (role, address), reading in sorted(last.processes.items()):
            if role != module:
                continue
            registered = address in last.registered.get(module, set())
            health = "down" if not reading.reachable else ("up" if registered else "unregistered")
            rows.append(ReplicaRow(address, health, worst.get((module, address), "closed")))
        boxes[module] = ModuleBox(module=module, process=module, replicas=rows)
    return boxes


def _at_or_before(samples: Sequence[Sample], at: float) -> Sample:
    """The newest sample taken at or before ``at`` (the oldest if none is that old)."""
    for sample in reversed(samples):
        if sample.at <= at:
            return sample
    return samples[0]


def _delta(after: float, before: float) -> float:
    return after if after < before else after - before  # a smaller counter: the process restarted


def _pairs(role: str, a: Sample, b: Sample) -> list[tuple[ProcessReading, ProcessReading]]:
    """The same process in both samples, reachable both times."""
    return [
        (a.processes[key], reading)
        for key, reading in b.processes.items()
        if key[0] == role and key in a.processes and reading.reachable and a.processes[key].reachable
    ]


def _rate(role: str, a: Sample, b: Sample, figure: Callable[[ProcessReading], float]) -> float | None:
    pairs = _pairs(role, a, b)
    if not pairs or b.at <= a.at:
        return None
    return sum(_delta(figure(y), figure(x)) for x, y in pairs) / (b.at - a.at)


def _buckets(
    role: str | None, a: Sample, b: Sample, figure: Callable[[ProcessReading], dict[float, float]]
) -> dict[float, float]:
    """The histogram observations between two samples, summed over the role's processes."""
    merged: dict[float, float] = {}
    keys = [k for k in b.processes if role is None or k[0] == role]
    for key in keys:
        now, then = b.processes[key], a.processes.get(key)
        if not now.reachable or then is None or not then.reachable:
            continue
        after, earlier = figure(now), figure(then)
        reset = after.get(math.inf, 0.0) < earlier.get(math.inf, 0.0)
        for bound, count in after.items():
            merged[bound] = merged.get(bound, 0.0) + (count if reset else count - earlier.get(bound, 0.0))
    return merged


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def _service(
    name: str, picture: Picture, samples: Sequence[Sample], before: Sample, last: Sample
) -> ServiceFigures:
    requests = _rate(name, before, last, lambda r: r.requests)
    errors = _rate(name, before, last, lambda r: r.errors)
    latency = _buckets(name, before, last, lambda r: r.latency)
    if name == GATEWAY:
        up, total = 1, 1
    else:
        replicas = [r for box in picture.boxes if box.module == name for r in box.replicas]
        up, total = sum(1 for r in replicas if r.health == "up"), len(replicas)
    rps_series = [s.points.get(f"{name}:rps") for s in samples[1:]]
    err_series = [s.points.get(f"{name}:err") for s in samples[1:]]
    p99_series = [s.points.get(f"{name}:p99") for s in samples[1:]]
    return ServiceFigures(
        name=name,
        replicas_up=up,
        replicas=total,
        rps=requests,
        error_pct=None if not requests or errors is None else 100 * errors / requests,
        p50_ms=_ms(quantile(0.5, {}, latency)),
        p99_ms=_ms(quantile(0.99, {}, latency)),
        rps_chart=chart(rps_series, unit="/s", label=f"{name} requests per second"),
        p99_chart=chart(p99_series, unit=" ms", label=f"{name} p99 latency"),
        error_chart=chart(err_series, unit=" %", label=f"{name} error rate"),
    )


def _breakers(last: Sample) -> list[BreakerRow]:
    rows = [
        BreakerRow(f"{role}@{address}", b.service, b.address, b.state, int(b.failures))
        for (role, address), reading in sorted(last.processes.items())
        for b in reading.breakers
    ]
    # Open and half-open first: those are what an operator looks for.
    return sorted(rows, key=lambda r: (-_BREAKER_RANK.get(r.state, 0), r.service, r.address, r.caller))


def _budgets(before: Sample, last: Sample) -> list[BudgetRow]:
    rows = []
    for key, reading in sorted(last.processes.items()):
        then = before.processes.get(key)
        elapsed = last.at - before.at
        for budget in reading.budgets:
            old = next((x for x in then.budgets if x.service == budget.service), None) if then else None
            rows.append(
                BudgetRow(
                    caller=f"{key[0]}@{key[1]}",
                    service=budget.service,
                    calls_per_s=None
                    if old is None or elapsed <= 0
                    else _delta(budget.calls, old.calls) / elapsed,
                    retries_per_s=None
                    if old is None or elapsed <= 0
                    else _delta(budget.retries, old.retries) / elapsed,
                    refused=int(budget.refused),
                    tokens=budget.tokens,
                    capacity=budget.capacity,
                )
            )
    return rows


def _outbox(runtime: Runtime, sample: Sample) -> dict[str, int]:
    """Rows waiting per module: the same table seen by each of its replicas, so the largest."""
    found: dict[str, int] = {}
    for reading in sample.processes.values():
        if not reading.reachable:
            continue
        for module, rows in reading.outbox.items():
            found[module] = max(found.get(module, 0), int(rows))
    return found


def _pipeline(runtime: Runtime, samples: Sequence[Sample]) -> Pipeline:
    last = samples[-1]
    outbox = _outbox(runtime, last)
    local = set(runtime.manifest.local_modules)
    rows = [(m, "gateway" if m in local else m, outbox[m]) for m in MODULE_NAMES if m in outbox]
    fan_before = _at_or_before(samples, last.at - FANOUT_WINDOW_S)
    fanout = _buckets(None, fan_before, last, lambda r: r.fanout)
    fan_series = [s.points.get("fanout:p99") for s in samples[1:]]
    streams = last.streams
    if runtime.manifest.events.transport == "redis-streams":
        transport = "Redis Streams (one consumer group per consumer)"
        note = last.streams_error
        lag_chart: Chart | None = chart(
            [None if s.streams is None else float(sum(g.lag or 0 for g in s.streams)) for s in samples],
            unit="",
            label="entries not yet delivered, all groups",
        )
    else:
        transport = "in-process bus (outbox relayed to handlers in this process)"
        note = "no streams: events are delivered inside the gateway process"
        lag_chart = None
    return Pipeline(
        transport=transport,
        outbox=rows,
        outbox_chart=chart(
            [s.points.get("outbox") for s in samples],
            unit="",
            label="outbox rows waiting, all modules",
        ),
        streams=streams,
        streams_note=note,
        lag_chart=lag_chart,
        fanout_p50_ms=_ms(quantile(0.5, {}, fanout)),
        fanout_p99_ms=_ms(quantile(0.99, {}, fanout)),
        fanout_chart=chart(fan_series, unit=" ms", label="fan-out lag p99"),
    )


CHART_W = 140
CHART_H = 36
#: At most this many points per chart (a longer history is reduced to each stretch's largest value).
CHART_POINTS = 100


def chart(values: Sequence[float | None], *, unit: str, label: str) -> Chart:
    """Polyline points for ``values`` (oldest first; a gap where a value is unknown is drawn as 0)."""
    shown = [0.0 if v is None else float(v) for v in values]
    if len(shown) > CHART_POINTS:
        size = len(shown) / CHART_POINTS
        shown = [max(shown[int(i * size) : int((i + 1) * size)]) for i in range(CHART_POINTS)]
    peak = max(shown, default=0.0)
    scale = (CHART_H - 4) / (peak if peak > 0 else 1.0)
    step = CHART_W / max(1, len(shown) - 1)
    points = " ".join(f"{i * step:.1f},{CHART_H - 2 - v * scale:.1f}" for i, v in enumerate(shown))
    return Chart(points=points, width=CHART_W, height=CHART_H, peak=f"{_short(peak)}{unit}", label=label)


def _short(value: float) -> str:
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"
