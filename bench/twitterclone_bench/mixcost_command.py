"""``twitterclone bench mix-cost``. Imports only click; the tool itself loads when it runs."""

from __future__ import annotations

from typing import Any

import click

from twitterclone_bench import options


@click.command(name="mix-cost")
@click.option(
    "--manifest", default="deployments/monolith.toml", show_default=True, help="The deployment to start."
)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(min=1), help="granian workers.")
@click.option("--users", default=1000, show_default=True, type=click.IntRange(min=2), help="Seeded accounts.")
@click.option(
    "--avg-follows", default=20.0, show_default=True, type=click.FloatRange(min=1), help="Mean follows each."
)
@click.option(
    "--tweets-per-user", default=3, show_default=True, type=click.IntRange(min=1), help="Seeded posts each."
)
@options.mix("Routes to measure, and their weights in the mix's cost.")
@click.option(
    "--requests", default=1000, show_default=True, type=click.IntRange(min=10), help="Requests per round."
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
    "--warmup", default=200, show_default=True, type=click.IntRange(min=0), help="Requests per route first."
)
@click.option(
    "--settle-limit",
    "settle_limit_s",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="Most seconds to wait after a round for the server to go idle (its async consequences).",
)
@click.option(
    "--generator-rate",
    default=0.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Also run the mix open loop at this rate on aiohttp and on the lean client (0: do not).",
)
@click.option(
    "--generator-s",
    default=20.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="Seconds per such run.",
)
@click.option(
    "--generator-rounds", default=2, show_default=True, type=click.IntRange(min=1), help="Runs per client."
)
@click.option(
    "--py-spy",
    "py_spy",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="A py-spy binary: also profile a worker on each --profile-route.",
)
@click.option(
    "--profile-route",
    "profile_routes",
    multiple=True,
    type=click.Choice(["home", "user_timeline", "post", "like", "follow"]),
    help="A route to profile with --py-spy (repeatable).",
)
@click.option(
    "--profile-s", default=10.0, show_default=True, type=click.FloatRange(min=1), help="Profile length."
)
@options.output("Where the JSON (and the folded profiles) go.")
def mix_cost(**given: Any) -> None:
    """Server CPU per request of each route of the mix (with its async consequences), on a fresh monolith.

    Seeds the power-law graph through the API, then sends each route of the mix in alternating
    closed-loop rounds, taking the server's CPU from /proc while the requests are answered and
    after, until the server is idle again (fan-out, notifications, analytics, impressions).
    Prints a table and the mix's weighted cost; with --generator-rate, also the generator's own
    CPU per request on aiohttp and on the lean client.
    """
    from twitterclone_bench.mixcost import MixCostConfig, run_mix_cost

    try:
        run_mix_cost(MixCostConfig(**given))
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc
