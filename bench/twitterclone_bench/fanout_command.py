"""``twitterclone bench fanout``. Imports only click; the tool itself loads when it runs."""

from __future__ import annotations

import click

DATABASES = click.Choice(["sqlite", "postgresql"])
_POSITIVE = click.FloatRange(min=0, min_open=True)


@click.command()
@click.option(
    "--database",
    type=DATABASES,
    default="sqlite",
    show_default=True,
    help="Where the monolith keeps its data.",
)
@click.option(
    "--postgres-url",
    default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres",
    show_default=True,
    help="With --database postgresql: a server to create (and drop) a database tc_bench_<hex> on.",
)
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
    default=1000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Followers polled in phase B.",
)
@click.option(
    "--read-rate", default=50.0, show_default=True, type=_POSITIVE, help="Background reads per second."
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
    default=5.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Phase A: seconds of reads before the first window.",
)
@click.option(
    "--window", default=15.0, show_default=True, type=_POSITIVE, help="Phase A: seconds per window."
)
@click.option(
    "--small-posts", default=150, show_default=True, type=click.IntRange(min=0), help="Phase C: posts."
)
@click.option(
    "--small-post-rate", default=5.0, show_default=True, type=_POSITIVE, help="Phase C: posts per second."
)
@click.option(
    "--poll-rate", default=50.0, show_default=True, type=_POSITIVE, help="Phase B: most polls per second."
)
@click.option(
    "--give-up", default=30.0, show_default=True, type=_POSITIVE, help="Phase B: seconds before giving up."
)
@click.option("--seed", default=1, show_default=True, help="Random seed.")
@click.option("--out-dir", default="bench-results", show_default=True, help="Where the JSON goes.")
@click.option("--label", default="", help="Suffix for the result file name.")
def fanout(
    database: str,
    postgres_url: str,
    workers: int | None,
    threshold: int,
    followers: int,
    near_followers: int | None,
    small_authors: int,
    small_max_followers: int,
    readers: int,
    sample: int,
    read_rate: float,
    follower_read_rate: float,
    warmup: float,
    window: float,
    small_posts: int,
    small_post_rate: float,
    poll_rate: float,
    give_up: float,
    seed: int,
    out_dir: str,
    label: str,
) -> None:
    """An author with 100,000 followers posts: who sees it how fast, and what it costs everyone else.

    Seeds the monolith directly (the users port for accounts it logs in as, bulk rows for the
    silent followers), serves it with `twitterclone run`, and measures with open-loop reads:
    A. everyone else's home reads before and after the posts, B. how long the star's and a
    near-threshold author's followers take to see a new tweet, C. fan-out lag of authors with
    at most 1,000 followers. Prints the figures and writes bench-results/<time>-fanout-<db>.json.
    """
    from twitterclone_bench.fanout import FanoutBenchConfig, run_fanout_bench
    from twitterclone_bench.relay import BenchSetupError

    config = FanoutBenchConfig(
        database=database,
        postgres_url=postgres_url,
        workers=workers,
        threshold=threshold,
        star_followers=followers,
        near_followers=near_followers,
        small_authors=small_authors,
        small_max_followers=small_max_followers,
        readers=readers,
        sampled=sample,
        read_rate=read_rate,
        follower_read_rate=follower_read_rate,
        warmup_s=warmup,
        window_s=window,
        small_posts=small_posts,
        small_post_rate=small_post_rate,
        poll_rate=poll_rate,
        give_up_s=give_up,
        seed=seed,
        out_dir=out_dir,
        label=label,
    )
    try:
        run_fanout_bench(config)
    except (BenchSetupError, ValueError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from exc
