"""The ``twitterclone bench`` command. Imports only click; the tool itself loads when it runs.

The product finds it through the ``twitterclone.commands`` entry point (pyproject.toml); it never
imports this package.
"""

from __future__ import annotations

from typing import Any

import click
from click.core import ParameterSource

from twitterclone_bench import options
from twitterclone_bench.adapter_cost_command import adapter_cost
from twitterclone_bench.connections_command import connections
from twitterclone_bench.fanout_command import fanout
from twitterclone_bench.hop_command import hop
from twitterclone_bench.mixcost_command import mix_cost
from twitterclone_bench.readcost_command import read_cost
from twitterclone_bench.relay_command import relay
from twitterclone_bench.scale_command import scale
from twitterclone_bench.webhome_command import web_home
from twitterclone_bench.writes_command import writes


@click.group(invoke_without_command=True)
@options.target(
    "Migrate and serve the monolith on a fresh temporary data dir (cheap argon2), run, then stop it."
)
@click.option(
    "--workers", type=int, help="With --start-monolith: gateway worker processes (default: manifest)."
)
@click.option("--users", default=1000, show_default=True, help="Synthetic graph size (accounts).")
@options.graph(avg_follows=20.0)
@click.option("--rate", default=200.0, show_default=True, help="Mixed run: arrival rate (req/s).")
@options.run_length("Mixed run")
@options.mix("Route weights of the mixed run.")
@click.option(
    "--ceiling-duration",
    "ceiling_s",
    default=5.0,
    show_default=True,
    help="Seconds of the GET /livez ceiling probe.",
)
@click.option(
    "--ceiling-concurrency", default=32, show_default=True, help="Closed-loop workers for the ceiling."
)
@click.option("--search/--no-search", default=True, show_default=True, help="Home-timeline max-rate search.")
@click.option(
    "--search-mixed/--no-search-mixed", default=True, show_default=True, help="Mixed max-rate search."
)
@options.search(step_s=5.0, steps=10)
@options.seeding()
@click.option(
    "--max-in-flight", default=10_000, show_default=True, help="Open loop: drop (error) above this."
)
@options.request_timeout()
@options.client()
@options.output("Where the JSON and the SVG go.")
@click.pass_context
def bench(ctx: click.Context, /, **given: Any) -> None:
    """Seed a social graph, drive open-loop load at a fixed rate, report latency, ceiling and fan-out lag.

    Against a running deployment (--url, any manifest) or a monolith it starts itself
    (--start-monolith). Writes bench-results/<time>.json and a latency-over-time SVG.
    `twitterclone bench connections --help`: many keep-alive users at a think time instead.
    """
    if ctx.invoked_subcommand is not None:
        on_command_line = [
            p.opts[0]
            for p in ctx.command.params
            if ctx.get_parameter_source(p.name or "") is ParameterSource.COMMANDLINE
        ]
        if on_command_line:
            raise click.UsageError(
                f"{', '.join(on_command_line)} belong to `bench` itself; give the options of "
                f"`bench {ctx.invoked_subcommand}` after its name"
            )
        return
    from twitterclone_bench.runner import BenchConfig, run_bench
    from twitterclone_bench.seed import SeedError

    try:
        run_bench(BenchConfig(**given))
    except (SeedError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from exc


bench.add_command(connections)
bench.add_command(adapter_cost)
bench.add_command(fanout)
bench.add_command(hop)
bench.add_command(relay)
bench.add_command(scale)
bench.add_command(web_home)
bench.add_command(read_cost)
bench.add_command(mix_cost)
bench.add_command(writes)
