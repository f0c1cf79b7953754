"""``twitterclone bench connections``. Imports only click; the tool itself loads when it runs."""

from __future__ import annotations

import click


def _sources(value: str | None) -> tuple[str, ...] | int | None:
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return int(value)
    return tuple(a.strip() for a in value.split(",") if a.strip())


@click.command()
@click.option(
    "--url", default="http://127.0.0.1:8000", show_default=True, help="Gateway of a running deployment."
)
@click.option(
    "--start-monolith",
    is_flag=True,
    help="Migrate and serve the monolith on a fresh temporary data dir, with as many granian workers and "
    "as high a per-worker connection limit as the connections need; stop it at the end.",
)
@click.option(
    "--manifest", default="deployments/monolith.toml", show_default=True, help="With --start-monolith."
)
@click.option(
    "--gateway-workers",
    type=click.IntRange(min=1),
    help="With --start-monolith: granian workers (default: enough for the connections under RLIMIT_NOFILE).",
)
@click.option("--port", type=int, help="With --start-monolith: port (default: a free one).")
@click.option(
    "--keep-alive-timeout",
    default=3600.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="With --start-monolith: seconds the gateway keeps an idle keep-alive connection (granian: 30).",
)
@click.option(
    "--backlog", default=4096, show_default=True, type=click.IntRange(min=128), help="With --start-monolith."
)
@click.option(
    "--connections",
    default=50_000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Simulated users, each on its own keep-alive connection.",
)
@click.option(
    "--think-time",
    default=250.0,
    show_default=True,
    type=click.FloatRange(min=0.001),
    help="Mean seconds between a user's actions (exponential).",
)
@click.option(
    "--requests-per-action",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Requests of the mix per action, one after another on the user's connection.",
)
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    help="Generator processes (default: enough for RLIMIT_NOFILE, at most 15,000 connections each).",
)
@click.option(
    "--source-addresses",
    help="How many source loopback addresses (127.0.0.2, ...) or a comma-separated list "
    "(default: one per 16,000 connections, at least 2).",
)
@click.option(
    "--accounts", default=1000, show_default=True, help="Seeded accounts; user i acts as account i mod this."
)
@click.option("--avg-follows", default=5.0, show_default=True, help="Synthetic graph: mean follows per user.")
@click.option(
    "--graph", "graph_path", type=click.Path(exists=True, dir_okay=False), help="Edge-list file instead."
)
@click.option("--tweets-per-user", default=3, show_default=True, help="Tweets seeded per account.")
@click.option(
    "--mix",
    default="home=58,user_timeline=29,post=9,like=3,follow=1",
    show_default=True,
    help="Route weights of an action's requests.",
)
@click.option("--duration", default=60.0, show_default=True, help="Model run: measured seconds.")
@click.option("--warmup", default=10.0, show_default=True, help="Model run: seconds before measuring.")
@click.option(
    "--search/--no-search",
    default=True,
    show_default=True,
    help="First search the highest rate that holds the p99 target with every connection open.",
)
@click.option("--search-step", default=15.0, show_default=True, help="Seconds per search step.")
@click.option("--search-steps", default=8, show_default=True, help="Most search steps.")
@click.option("--p99-target", default=100.0, show_default=True, help="p99 to stay under (ms).")
@click.option("--timeout", default=10.0, show_default=True, help="Per-request timeout (s).")
@click.option(
    "--connect-concurrency", default=256, show_default=True, help="Connections opened at once, per process."
)
@click.option(
    "--connect-timeout", default=30.0, show_default=True, help="Per-connection connect timeout (s)."
)
@click.option(
    "--settle-timeout", default=600.0, show_default=True, help="Most seconds to wait for seeding's fan-out."
)
@click.option("--concurrency", default=16, show_default=True, help="Concurrent requests while seeding.")
@click.option("--progress-every", default=5.0, show_default=True, help="Seconds between progress lines.")
@click.option("--seed", default=1, show_default=True, help="Random seed (graph, think times, workload).")
@click.option("--out-dir", default="bench-results", show_default=True, help="Where the JSON and the SVG go.")
@click.option("--label", default="", help="Suffix for the result file names.")
def connections(
    url: str,
    start_monolith: bool,
    manifest: str,
    gateway_workers: int | None,
    port: int | None,
    keep_alive_timeout: float,
    backlog: int,
    connections: int,
    think_time: float,
    requests_per_action: int,
    processes: int | None,
    source_addresses: str | None,
    accounts: int,
    avg_follows: float,
    graph_path: str | None,
    tweets_per_user: int,
    mix: str,
    duration: float,
    warmup: float,
    search: bool,
    search_step: float,
    search_steps: int,
    p99_target: float,
    timeout: float,
    connect_concurrency: int,
    connect_timeout: float,
    settle_timeout: float,
    concurrency: int,
    progress_every: float,
    seed: int,
    out_dir: str,
    label: str,
) -> None:
    """Hold N keep-alive connections, one per simulated user, and drive the mix at N / think time.

    Each user acts at exponential think times; latency counts from each request's scheduled time.
    The connections are spread over several generator processes and source loopback addresses.
    Reports connections held, rate, errors by kind, per-route percentiles and the memory of the
    gateway and of the generators; writes bench-results/<time>-connections.json and an SVG.
    """
    from twitterclone_bench.connections import ConnectionsConfig, PlanError, run_connections
    from twitterclone_bench.seed import SeedError
    from twitterclone_bench.workload import parse_mix

    try:
        weights = parse_mix(mix)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--mix") from exc
    config = ConnectionsConfig(
        url=url,
        start_monolith=start_monolith,
        manifest=manifest,
        gateway_workers=gateway_workers,
        port=port,
        keep_alive_s=keep_alive_timeout,
        backlog=backlog,
        connections=connections,
        think_time_s=think_time,
        requests_per_action=requests_per_action,
        processes=processes,
        source_addresses=_sources(source_addresses),
        accounts=accounts,
        avg_follows=avg_follows,
        graph=graph_path,
        tweets_per_user=tweets_per_user,
        mix=weights,
        duration_s=duration,
        warmup_s=warmup,
        search=search,
        search_step_s=search_step,
        search_steps=search_steps,
        p99_target_ms=p99_target,
        timeout_s=timeout,
        connect_concurrency=connect_concurrency,
        connect_timeout_s=connect_timeout,
        settle_timeout_s=settle_timeout,
        concurrency=concurrency,
        progress_every_s=progress_every,
        seed=seed,
        out_dir=out_dir,
        label=label,
    )
    try:
        run_connections(config)
    except PlanError as exc:
        raise click.UsageError(str(exc)) from exc
    except (SeedError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from exc
