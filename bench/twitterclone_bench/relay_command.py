"""``twitterclone bench relay``. Imports only click; the tool itself loads when it runs."""

from __future__ import annotations

import click

DATABASES = click.Choice(["sqlite", "postgresql"])


@click.command()
@click.option(
    "--database", type=DATABASES, default="sqlite", show_default=True, help="Where the modules' stores live."
)
@click.option(
    "--postgres-url",
    default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres",
    show_default=True,
    help="With --database postgresql: a server to create (and drop) a database tc_bench_<hex> on.",
)
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
    default=600.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="Most seconds per drain.",
)
@click.option("--seed", default=1, show_default=True, help="Random seed.")
@click.option("--out-dir", default="bench-results", show_default=True, help="Where the JSON goes.")
@click.option("--label", default="", help="Suffix for the result file name.")
def relay(
    database: str,
    postgres_url: str,
    users: int,
    follows: int,
    tweets_per_user: int,
    timeout: float,
    seed: int,
    out_dir: str,
    label: str,
) -> None:
    """How fast the outbox relays drain bursts of events (posts, follows), in events per second.

    Runs the whole monolith in this process on a fresh data directory (SQLite) or a fresh
    PostgreSQL database, writes each burst with the relays stopped, then times the drain.
    """
    from twitterclone_bench.relay import BenchSetupError, RelayBenchConfig, run_relay_bench

    config = RelayBenchConfig(
        database=database,
        postgres_url=postgres_url,
        users=users,
        follows=follows,
        tweets_per_user=tweets_per_user,
        timeout_s=timeout,
        seed=seed,
        out_dir=out_dir,
        label=label,
    )
    try:
        run_relay_bench(config)
    except BenchSetupError as exc:
        raise click.ClickException(str(exc)) from exc
