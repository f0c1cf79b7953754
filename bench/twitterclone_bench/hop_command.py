"""``twitterclone bench hop``. Imports only click; the tool itself loads when it runs."""

from __future__ import annotations

from typing import Any

import click

from twitterclone_bench import options


@click.command(name="hop")
@click.option(
    "--module",
    type=click.Choice(["tweets", "users"]),
    default="tweets",
    show_default=True,
    help="The module served as a service of its own (its no-op-ish method is called).",
)
@click.option("--calls", default=2000, show_default=True, type=click.IntRange(min=1), help="Calls per round.")
@click.option(
    "--rounds", default=3, show_default=True, type=click.IntRange(min=1), help="Rounds per binding."
)
@click.option(
    "--warmup", default=200, show_default=True, type=click.IntRange(min=0), help="Calls before measuring."
)
@click.option(
    "--postgres-url",
    default=options.DEFAULT_POSTGRES_URL,
    show_default=True,
    help="A server to create (and drop) the stack's database tc_bench_<hex> on.",
)
@click.option(
    "--redis-url",
    default="redis://127.0.0.1:6379/0",
    show_default=True,
    help="The Redis the stack uses (under a key prefix of its own, deleted after).",
)
@options.output("Where the JSON goes.")
def hop(**given: Any) -> None:
    """What one internal hop costs: a no-op-ish port method over the adapter against in-process.

    Starts a split stack with one module as a service (`twitterclone up`'s launcher, its own
    database and Redis prefix), then calls the module's method one call at a time through the
    generic HTTP client and through the local binding, in alternating rounds: wall p50/p99,
    client CPU and server CPU per call.
    """
    from twitterclone_bench.hop import HopConfig, run_hop

    try:
        run_hop(HopConfig(**given))
    except (RuntimeError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
