"""``twitterclone bench read-cost``. Imports only click; the tool itself loads when it runs."""

from __future__ import annotations

from typing import Any

import click

from twitterclone_bench import options


@click.command(name="read-cost")
@click.option(
    "--manifest", default="deployments/monolith.toml", show_default=True, help="The deployment to start."
)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1), help="granian workers.")
@click.option("--users", default=200, show_default=True, type=click.IntRange(min=2), help="Seeded accounts.")
@click.option(
    "--avg-follows", default=15.0, show_default=True, type=click.FloatRange(min=1), help="Mean follows each."
)
@click.option(
    "--tweets-per-user", default=5, show_default=True, type=click.IntRange(min=1), help="Seeded posts each."
)
@click.option(
    "--requests", default=3000, show_default=True, type=click.IntRange(min=10), help="Requests per round."
)
@click.option(
    "--rounds", default=3, show_default=True, type=click.IntRange(min=1), help="Alternating rounds per route."
)
@click.option(
    "--concurrency",
    default=8,
    show_default=True,
    type=click.IntRange(min=1),
    help="Connections (closed loop).",
)
@click.option(
    "--warmup", default=500, show_default=True, type=click.IntRange(min=0), help="Requests per route first."
)
@click.option(
    "--py-spy",
    "py_spy",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="A py-spy binary: also profile the worker while it serves home reads.",
)
@click.option(
    "--profile-s", default=10.0, show_default=True, type=click.FloatRange(min=1), help="Profile length."
)
@click.option(
    "--profile-rate", default=200, show_default=True, type=click.IntRange(min=1), help="py-spy samples/s."
)
@click.option("--native", is_flag=True, help="py-spy --native: native frames too (pauses the worker).")
@options.output("Where the JSON (and the folded profile) go.")
def read_cost(**given: Any) -> None:
    """Server CPU per home read against /livez on one fresh monolith, and where it goes.

    Seeds a power-law graph through the API, then reads /livez and the home timeline (tokens
    rotating over every seeded account) in alternating closed-loop rounds, taking the server's
    CPU time from /proc around each round. With --py-spy, profiles the worker on home reads.
    """
    from twitterclone_bench.readcost import ReadCostConfig, run_read_cost

    try:
        run_read_cost(ReadCostConfig(**given))
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc
