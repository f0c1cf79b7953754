"""``twitterclone bench fanout``. Imports only click; the tool itself loads when it runs."""

from __future__ import annotations

from typing import Any

import click

from twitterclone_bench import options


@click.command()
@options.database()
@click.option(
    "--workers", type=click.IntRange(min=1), help="Gateway worker processes (default: the manifest's)."
)
@click.option(
    "--threshold",
    default=10_000,
    show_default=True,
    type=click.IntRange(min=2),
    help="Fan-out threshold: authors with this many followers are merged at read time.",
)
@click.option(
    "--followers",
    "star_followers",
    default=100_000,
    show_default=True,
    type=click.IntRange(min=2),
    help="The star's followers.",
)
@click.option(
    "--near-followers",
    type=click.IntRange(min=1),
    help="The near author's followers (default: threshold - 1).",
)
@click.option(
    "--small-authors", default=20, show_default=True, type=click.IntRange(min=0), help="Small authors."
)
@click.option(
    "--small-max-followers",
    default=1000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Small authors have 10 to this many followers (log-spread).",
)
@click.option(
    "--readers",
    default=500,
    show_default=True,
    type=click.IntRange(min=1),
    help="Accounts reading in the background (they follow small authors only: everyone else).",
)
@click.option(
    "--sample",
    "sampled",
    default=1000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Followers polled in phase B.",
)
@click.option(
    "--read-rate", default=50.0, show_default=True, type=options.POSITIVE, help="Background reads per second."
)
@click.option(
    "--follower-read-rate",
    default=10.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Phase A: reads per second by sampled followers (they merge the star in at read time).",
)
@click.option(
    "--warmup",
    "warmup_s",
    default=5.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Phase A: seconds of reads before the first window.",
)
@click.option(
    "--window",
    "window_s",
    default=15.0,
    show_default=True,
    type=options.POSITIVE,
    help="Phase A: seconds per window.",
)
@click.option(
    "--small-posts", default=150, show_default=True, type=click.IntRange(min=0), help="Phase C: posts."
)
@click.option(
    "--small-post-rate",
    default=5.0,
    show_default=True,
    type=options.POSITIVE,
    help="Phase C: posts per second.",
)
@click.option(
    "--poll-rate",
    default=50.0,
    show_default=True,
    type=options.POSITIVE,
    help="Phase B: most polls per second.",
)
@click.option(
    "--give-up",
    "give_up_s",
    default=30.0,
    show_default=True,
    type=options.POSITIVE,
    help="Phase B: seconds before giving up.",
)
@options.output("Where the JSON goes.")
def fanout(**given: Any) -> None:
    """An author with 100,000 followers posts: who sees it how fast, and what it costs everyone else.

    Seeds the monolith in-process through the users port (register for the accounts it logs in
    as, import_accounts for the silent followers and the follows), serves it with `twitterclone
    run`, and measures with open-loop reads: A. everyone else's home reads before and after the
    posts, B. how long the star's and a near-threshold author's followers take to see a new
    tweet, C. fan-out lag of authors with at most 1,000 followers. Prints the figures and writes
    bench-results/<time>-fanout-<db>.json.
    """
    from twitterclone_bench.fanout import FanoutBenchConfig, run_fanout_bench
    from twitterclone_bench.relay import BenchSetupError

    try:
        run_fanout_bench(FanoutBenchConfig(**given))
    except (BenchSetupError, ValueError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from exc
