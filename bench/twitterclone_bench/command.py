"""The ``twitterclone bench`` command. Imports only click; the tool itself loads when it runs."""

from __future__ import annotations

import click
from click.core import ParameterSource

from twitterclone_bench.connections_command import connections
from twitterclone_bench.fanout_command import fanout
from twitterclone_bench.relay_command import relay


@click.group(invoke_without_command=True)
@click.option(
    "--url", default="http://127.0.0.1:8000", show_default=True, help="Gateway of a running deployment."
)
@click.option(
    "--start-monolith",
    is_flag=True,
    help="Migrate and serve the monolith on a fresh temporary data dir (cheap argon2), run, then stop it.",
)
@click.option(
    "--manifest", default="deployments/monolith.toml", show_default=True, help="With --start-monolith."
)
@click.option(
    "--workers", type=int, help="With --start-monolith: gateway worker processes (default: manifest)."
)
@click.option("--port", type=int, help="With --start-monolith: port (default: a free one).")
@click.option("--users", default=1000, show_default=True, help="Synthetic graph size (accounts).")
@click.option(
    "--avg-follows", default=20.0, show_default=True, help="Synthetic graph: mean follows per user."
)
@click.option(
    "--graph", "graph_path", type=click.Path(exists=True, dir_okay=False), help="Edge-list file instead."
)
@click.option("--tweets-per-user", default=3, show_default=True, help="Tweets seeded per account.")
@click.option("--rate", default=200.0, show_default=True, help="Mixed run: arrival rate (req/s).")
@click.option("--duration", default=60.0, show_default=True, help="Mixed run: measured seconds.")
@click.option("--warmup", default=10.0, show_default=True, help="Mixed run: seconds before measuring.")
@click.option(
    "--mix",
    default="home=58,user_timeline=29,post=9,like=3,follow=1",
    show_default=True,
    help="Route weights of the mixed run.",
)
@click.option(
    "--ceiling-duration", default=5.0, show_default=True, help="Seconds of the GET /livez ceiling probe."
)
@click.option(
    "--ceiling-concurrency", default=32, show_default=True, help="Closed-loop workers for the ceiling."
)
@click.option("--search/--no-search", default=True, show_default=True, help="Home-timeline max-rate search.")
@click.option(
    "--search-mixed/--no-search-mixed", default=True, show_default=True, help="Mixed max-rate search."
)
@click.option("--search-step", default=5.0, show_default=True, help="Seconds per search step.")
@click.option("--search-steps", default=10, show_default=True, help="Most search steps.")
@click.option(
    "--p99-target", default=100.0, show_default=True, help="p99 a search step must stay under (ms)."
)
@click.option(
    "--settle-timeout", default=600.0, show_default=True, help="Most seconds to wait for seeding's fan-out."
)
@click.option("--concurrency", default=16, show_default=True, help="Concurrent requests while seeding.")
@click.option(
    "--max-in-flight", default=10_000, show_default=True, help="Open loop: drop (error) above this."
)
@click.option("--timeout", default=10.0, show_default=True, help="Per-request timeout (s).")
@click.option("--seed", default=1, show_default=True, help="Random seed (graph, workload).")
@click.option("--out-dir", default="bench-results", show_default=True, help="Where the JSON and the SVG go.")
@click.option("--label", default="", help="Suffix for the result file names.")
@click.pass_context
def bench(
    ctx: click.Context,
    url: str,
    start_monolith: bool,
    manifest: str,
    workers: int | None,
    port: int | None,
    users: int,
    avg_follows: float,
    graph_path: str | None,
    tweets_per_user: int,
    rate: float,
    duration: float,
    warmup: float,
    mix: str,
    ceiling_duration: float,
    ceiling_concurrency: int,
    search: bool,
    search_mixed: bool,
    search_step: float,
    search_steps: int,
    p99_target: float,
    settle_timeout: float,
    concurrency: int,
    max_in_flight: int,
    timeout: float,
    seed: int,
    out_dir: str,
    label: str,
) -> None:
    """Seed a social graph, drive open-loop load at a fixed rate, report latency, ceiling and fan-out lag.

    Against a running deployment (--url, any manifest) or a monolith it starts itself
    (--start-monolith). Writes bench-results/<time>.json and a latency-over-time SVG.
    `twitterclone bench connections --help`: many keep-alive users at a think time instead.
    """
    if ctx.invoked_subcommand is not None:
        given = [
            p.opts[0]
            for p in ctx.command.params
            if ctx.get_parameter_source(p.name or "") is ParameterSource.COMMANDLINE
        ]
        if given:
            raise click.UsageError(
                f"{', '.join(given)} belong to `bench` itself; give the options of "
                f"`bench {ctx.invoked_subcommand}` after its name"
            )
        return
    from twitterclone_bench.runner import BenchConfig, run_bench
    from twitterclone_bench.seed import SeedError
    from twitterclone_bench.workload import parse_mix

    try:
        weights = parse_mix(mix)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--mix") from exc
    config = BenchConfig(
        url=url,
        start_monolith=start_monolith,
        manifest=manifest,
        workers=workers,
        port=port,
        users=users,
        avg_follows=avg_follows,
        graph=graph_path,
        tweets_per_user=tweets_per_user,
        rate=rate,
        duration_s=duration,
        warmup_s=warmup,
        mix=weights,
        ceiling_s=ceiling_duration,
        ceiling_concurrency=ceiling_concurrency,
        search=search,
        search_mixed=search_mixed,
        search_step_s=search_step,
        search_steps=search_steps,
        p99_target_ms=p99_target,
        settle_timeout_s=settle_timeout,
        concurrency=concurrency,
        max_in_flight=max_in_flight,
        timeout_s=timeout,
        seed=seed,
        out_dir=out_dir,
        label=label,
    )
    try:
        run_bench(config)
    except (SeedError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from exc


bench.add_command(connections)
bench.add_command(fanout)
bench.add_command(relay)
