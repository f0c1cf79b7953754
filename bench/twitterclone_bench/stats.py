"""Exact percentiles from stored samples, and the summaries the report and the chart use."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import msgspec

from twitterclone_bench.report import Latency, RouteStats, SendLag, Series

PERCENTILES: tuple[float, ...] = (50.0, 90.0, 99.0, 99.9)


@dataclass(frozen=True, slots=True)
class Sample:
    """One request: its route, when it was due (s since the phase start), latency (s) and outcome.

    ``status`` is the HTTP status, or 0 when no response came (timeout, connection error, or the
    request was dropped because too many were in flight). ``send_lag`` is how late the generator
    actually sent it; a large one means the generator, not the server, was short of CPU.
    """

    route: str
    scheduled: float
    latency: float
    status: int
    send_lag: float = 0.0

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 400


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """The nearest-rank percentile of already sorted values (exact, no interpolation)."""
    if not sorted_values:
        return math.nan
    rank = math.ceil(p / 100.0 * len(sorted_values))
    return sorted_values[min(len(sorted_values), max(1, rank)) - 1]


def latency_summary(latencies_s: Iterable[float]) -> Latency:
    """count, p50/p90/p99/p99.9, max and mean, in milliseconds."""
    values = sorted(latencies_s)
    p50, p90, p99, p999 = (_ms(percentile(values, p)) for p in PERCENTILES)
    return Latency(
        count=len(values),
        p50_ms=p50,
        p90_ms=p90,
        p99_ms=p99,
        p99_9_ms=p999,
        max_ms=_ms(values[-1]) if values else math.nan,
        mean_ms=_ms(sum(values) / len(values)) if values else math.nan,
    )


def route_summary(samples: Sequence[Sample], duration_s: float) -> dict[str, RouteStats]:
    """Per route (and ``all``): count, errors, error rate, throughput, latency percentiles of every request.

    Latency percentiles include failed requests (a timeout is a slow answer, not a missing one).
    """
    by_route: dict[str, list[Sample]] = {}
    for s in samples:
        by_route.setdefault(s.route, []).append(s)
    by_route["all"] = list(samples)
    out: dict[str, RouteStats] = {}
    for route, items in by_route.items():
        errors = sum(1 for s in items if not s.ok)
        statuses: dict[str, int] = {}
        for s in items:
            if not s.ok:
                statuses[str(s.status)] = statuses.get(str(s.status), 0) + 1
        out[route] = RouteStats(
            **msgspec.structs.asdict(latency_summary(s.latency for s in items)),
            errors=errors,
            error_rate=errors / len(items) if items else 0.0,
            error_statuses=statuses,
            throughput_rps=(len(items) - errors) / duration_s if duration_s > 0 else 0.0,
        )
    return out


def send_lag(samples: Iterable[Sample]) -> SendLag:
    """p50 and p99 of how late the generator sent the requests (ms); None without requests."""
    lags = sorted(s.send_lag for s in samples)
    if not lags:
        return SendLag(p50=None, p99=None)
    return SendLag(p50=round(percentile(lags, 50) * 1000, 2), p99=round(percentile(lags, 99) * 1000, 2))


def time_series(samples: Sequence[Sample], bucket_s: float = 1.0) -> Series:
    """Per route (and ``all``), per bucket of scheduled time: p50, p99, completed and error counts."""
    buckets: dict[str, dict[int, list[Sample]]] = {}
    for s in samples:
        b = int(s.scheduled // bucket_s)
        buckets.setdefault(s.route, {}).setdefault(b, []).append(s)
        buckets.setdefault("all", {}).setdefault(b, []).append(s)
    out: Series = {}
    for route, per in buckets.items():
        series = []
        for b in sorted(per):
            lat = sorted(s.latency for s in per[b])
            series.append(
                {
                    "t": b * bucket_s,
                    "p50_ms": _ms(percentile(lat, 50)),
                    "p99_ms": _ms(percentile(lat, 99)),
                    "count": float(len(lat)),
                    "errors": float(sum(1 for s in per[b] if not s.ok)),
                }
            )
        out[route] = series
    return out


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)
