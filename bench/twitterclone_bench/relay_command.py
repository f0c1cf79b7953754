"""``twitterclone bench relay``. Imports only click; the tool itself loads when it runs."""

from __future__ import annotations

from typing import Any

import click

from twitterclone_bench import options


@click.command()
@options.database()
@click.option("--users", default=500, show_default=True, type=click.IntRange(min=2), help="Accounts.")
@click.option(
    "--follows", default=5000, show_default=True, type=click.IntRange(min=1), help="The follow burst."
)
@click.option(
    "--tweets-per-user",
    default=2,
    show_default=True,
    type=click.IntRange(min=1),
    help="Posts per account per burst.",
)
@click.option(
    "--timeout",
    "timeout_s",
    default=600.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="Most seconds per drain.",
)
@options.output("Where the JSON goes.")
def relay(**given: Any) -> None:
    """How fast the outbox relays drain bursts of events (posts, follows), in events per second.

    Runs the whole monolith in this process on a fresh data directory (SQLite) or a fresh
    PostgreSQL database, writes each burst with the relays stopped, then times the drain.
    """
    from twitterclone_bench.relay import BenchSetupError, RelayBenchConfig, run_relay_bench

    try:
        run_relay_bench(RelayBenchConfig(**given))
    except BenchSetupError as exc:
        raise click.ClickException(str(exc)) from exc
