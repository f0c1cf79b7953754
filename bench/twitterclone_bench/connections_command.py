"""``twitterclone bench connections``. Imports only click; the tool itself loads when it runs."""

from __future__ import annotations

from typing import Any

import click

from twitterclone_bench import options


def _sources(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, ...] | int | None:
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return int(value)
    return tuple(a.strip() for a in value.split(",") if a.strip())


@click.command()
@options.target(
    "Migrate and serve the monolith on a fresh temporary data dir, with as many granian workers and "
    "as high a per-worker connection limit as the connections need; stop it at the end."
)
@click.option(
    "--gateway-workers",
    type=click.IntRange(min=1),
    help="With --start-monolith: granian workers (default: enough for the connections under RLIMIT_NOFILE).",
)
@click.option(
    "--keep-alive-timeout",
    "keep_alive_s",
    default=3600.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="With --start-monolith: seconds the gateway keeps an idle keep-alive connection (granian: 30).",
)
@click.option(
    "--backlog", default=4096, show_default=True, type=click.IntRange(min=128), help="With --start-monolith."
)
@click.option(
    "--connections",
    default=50_000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Simulated users, each on its own keep-alive connection.",
)
@click.option(
    "--think-time",
    "think_time_s",
    default=250.0,
    show_default=True,
    type=click.FloatRange(min=0.001),
    help="Mean seconds between a user's actions (exponential).",
)
@click.option(
    "--requests-per-action",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Requests of the mix per action, one after another on the user's connection.",
)
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    help="Generator processes (default: enough for RLIMIT_NOFILE, at most 15,000 connections each).",
)
@click.option(
    "--source-addresses",
    callback=_sources,
    help="How many source loopback addresses (127.0.0.2, ...) or a comma-separated list "
    "(default: one per 16,000 connections, at least 2).",
)
@click.option(
    "--accounts", default=1000, show_default=True, help="Seeded accounts; user i acts as account i mod this."
)
@options.graph(avg_follows=5.0)
@options.mix("Route weights of an action's requests.")
@options.run_length("Model run")
@click.option(
    "--search/--no-search",
    default=True,
    show_default=True,
    help="First search the highest rate that holds the p99 target with every connection open.",
)
@options.search(step_s=15.0, steps=8)
@options.request_timeout()
@click.option(
    "--connect-concurrency", default=256, show_default=True, help="Connections opened at once, per process."
)
@click.option(
    "--connect-timeout",
    "connect_timeout_s",
    default=30.0,
    show_default=True,
    help="Per-connection connect timeout (s).",
)
@options.seeding()
@click.option(
    "--progress-every",
    "progress_every_s",
    default=5.0,
    show_default=True,
    help="Seconds between progress lines.",
)
@options.output("Where the JSON and the SVG go.")
def connections(**given: Any) -> None:
    """Hold N keep-alive connections, one per simulated user, and drive the mix at N / think time.

    Each user acts at exponential think times; latency counts from each request's scheduled time.
    The connections are spread over several generator processes and source loopback addresses.
    Reports connections held, rate, errors by kind, per-route percentiles and the memory of the
    gateway and of the generators; writes bench-results/<time>-connections.json and an SVG.
    """
    from twitterclone_bench.connections import ConnectionsConfig, PlanError, run_connections
    from twitterclone_bench.seed import SeedError

    try:
        run_connections(ConnectionsConfig(**given))
    except PlanError as exc:
        raise click.UsageError(str(exc)) from exc
    except (SeedError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from exc
