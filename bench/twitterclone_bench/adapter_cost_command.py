"""``twitterclone bench adapter-cost``. Imports only click; the tool itself loads when it runs."""

from __future__ import annotations

from typing import Any

import click

from twitterclone_bench import options


@click.command(name="adapter-cost")
@click.option(
    "--manifest", default="deployments/monolith.toml", show_default=True, help="The deployment to start."
)
@click.option(
    "--authors", default=20, show_default=True, type=click.IntRange(min=1), help="Followed accounts."
)
@click.option("--posts", default=3, show_default=True, type=click.IntRange(min=1), help="Posts per author.")
@click.option(
    "--requests",
    default=None,
    type=click.IntRange(min=1),
    help="Reads per round [default: 300; 25 with --cold].",
)
@click.option("--rounds", default=4, show_default=True, type=click.IntRange(min=1), help="Rounds per route.")
@click.option(
    "--warmup", default=30, show_default=True, type=click.IntRange(min=0), help="Reads before measuring."
)
@click.option(
    "--cold",
    is_flag=True,
    help="Every page read new to every cache: pages no route has shown, of authors no page has shown "
    "(seeds 20 accounts per page read).",
)
@options.output("Where the JSON goes.")
def adapter_cost(**given: Any) -> None:
    """Server CPU per home-timeline page, Mastodon route against native (the adapter's cost).

    Starts a fresh monolith, seeds one reader following a few authors, then reads both routes in
    alternating rounds, taking the server's CPU time from /proc around each round. With --cold,
    each route walks its own readers' timelines instead, every page and author new.
    """
    from twitterclone_bench.adapter_cost import AdapterCostConfig, run_adapter_cost

    try:
        run_adapter_cost(AdapterCostConfig(**given))
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc
