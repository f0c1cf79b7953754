"""``twitterclone bench writes``. Imports only click; the tool itself loads when it runs."""

from __future__ import annotations

from typing import Any

import click

from twitterclone_bench import options


@click.command()
@click.option(
    "--manifest",
    default="deployments/monolith.toml",
    show_default=True,
    help="HTTP part: the manifest the started server runs.",
)
@click.option("--workers", type=int, help="HTTP part: gateway worker processes (default: manifest).")
@click.option("--http/--no-http", default=True, show_default=True, help="Measure posts over HTTP.")
@click.option(
    "--in-process/--no-in-process",
    default=True,
    show_default=True,
    help="Measure the port, the consumers and the fan-out in this process.",
)
@click.option(
    "--redis/--no-redis",
    default=True,
    show_default=True,
    help='In process: also with home timelines in Redis (home_store = "redis").',
)
@click.option(
    "--redis-url",
    default="redis://127.0.0.1:6379/0",
    show_default=True,
    help="The Redis of --redis (keys under a prefix of this run's own, deleted after).",
)
@click.option(
    "--authors", default=20, show_default=True, type=click.IntRange(min=1), help="Posting accounts."
)
@click.option(
    "--posts", default=300, show_default=True, type=click.IntRange(min=10), help="Posts per round / burst."
)
@click.option("--rounds", default=3, show_default=True, type=click.IntRange(min=1), help="HTTP rounds.")
@click.option(
    "--followers",
    default=2000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Followers of the fan-out author (keep it under the popular threshold).",
)
@click.option(
    "--fanout-posts", default=20, show_default=True, type=click.IntRange(min=1), help="Posts it fans out."
)
@click.option("--profile", default=None, help="Write cProfile dumps to FILE.<phase>.prof and print the top.")
@options.output("Where the JSON goes.")
def writes(**given: Any) -> None:
    """Server CPU per post (over HTTP; on the port) and per fan-out entry (SQL and Redis home stores).

    CPU time rather than rates, so the figures hold on a shared machine. See BENCHMARKS.md,
    "Round two: writes".
    """
    from twitterclone_bench.writes import WritesBenchConfig, run_writes_bench

    try:
        run_writes_bench(WritesBenchConfig(**given))
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc
