"""What every subcommand's result is made of, and the one place results are written and drawn.

Each subcommand returns a ``Report`` (a msgspec Struct: typed, and the JSON file is exactly its
fields); ``publish`` writes the JSON (and the SVG chart when there is one) and asks the report to
draw itself with the shared table helpers here.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import msgspec
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

#: What a ``CpuMeter`` measured over a phase: cores used by the generator, the server, the rest.
Cpu = dict[str, float | None]
#: Per route (and ``all``), per second of the phase: p50, p99, completed and error counts.
Series = dict[str, list[dict[str, float]]]


class Latency(msgspec.Struct, kw_only=True):
    """count, p50/p90/p99/p99.9, max and mean of a set of latencies, in milliseconds (NaN: none)."""

    count: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p99_9_ms: float = msgspec.field(name="p99.9_ms")
    max_ms: float
    mean_ms: float


class RouteStats(Latency, kw_only=True):
    """One route's requests (failed ones included in the latencies), errors and throughput."""

    errors: int
    error_rate: float
    error_statuses: dict[str, int]
    throughput_rps: float


class SendLag(msgspec.Struct, kw_only=True):
    """How late the generator sent requests (ms): large when the generator, not the server, lagged."""

    p50: float | None
    p99: float | None


class Report(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A subcommand's whole result. Optional sections (``None``) are left out of the JSON."""

    #: Where ``publish`` wrote the SVG chart (reports with a latency-over-time series) and the JSON.
    chart_file: str | None = msgspec.field(default=None, name="chart")
    json_file: str | None = msgspec.field(default=None, name="json")

    def render(self, console: Console) -> None:
        """Draw the figures a reader looks at first (the JSON has everything)."""
        raise NotImplementedError


def progress_bars(console: Console | None, label_width: int = 0) -> Progress:
    """Progress bars, one per task: its name, a bar, done/total and the time elapsed."""
    label = f"{{task.description:<{label_width}}}" if label_width else "{task.description}"
    return Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    )


def ms(value: float | None) -> str:
    """Milliseconds for a table cell; ``-`` when there were no samples (None or NaN)."""
    return "-" if value is None or math.isnan(value) else f"{value:,.1f}"


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> Table:
    """A table whose first column (the name) is left-aligned and every figure right-aligned."""
    out = Table(title=title)
    for i, column in enumerate(columns):
        out.add_column(column, justify="left" if i == 0 else "right")
    for row in rows:
        out.add_row(*row)
    return out


def route_table(title: str, routes: dict[str, RouteStats]) -> Table:
    """Per route: count, errors, req/s and the percentiles; the ``all`` row in bold."""
    out = table(
        title, ("route", "count", "errors", "req/s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms"), ()
    )
    for route, s in routes.items():
        out.add_row(
            route,
            str(s.count),
            str(s.errors),
            f"{s.throughput_rps:.1f}",
            *(f"{v:.1f}" for v in (s.p50_ms, s.p90_ms, s.p99_ms, s.p99_9_ms, s.max_ms)),
            style="bold" if route == "all" else None,
        )
    return out


def to_json(report: Report) -> str:
    """The report as the JSON document the tool writes (NaN where a figure had no samples)."""
    return json.dumps(msgspec.to_builtins(report), indent=2, default=str) + "\n"


def publish(report: Report, out_dir: str, name: str, console: Console, chart: str | None = None) -> None:
    """Write ``<out_dir>/<time>[-<name>].json`` (and the chart as ``.svg``), then draw the report."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{time.strftime('%Y%m%d-%H%M%S')}{f'-{name}' if name else ''}"
    if chart is not None:
        report.chart_file = str(out / f"{stem}.svg")
        Path(report.chart_file).write_text(chart)
    report.json_file = str(out / f"{stem}.json")
    Path(report.json_file).write_text(to_json(report))
    report.render(console)
    console.print(f"results: {report.json_file}" + (f"   chart: {report.chart_file}" if chart else ""))


def file_name(*parts: str) -> str:
    """The name part of a result file: the non-empty parts joined by dashes (kind, database, label)."""
    return "-".join(p for p in parts if p)
