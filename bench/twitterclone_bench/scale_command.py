"""``twitterclone bench scale``. Imports only click; the tool itself loads when it runs."""

from __future__ import annotations

from typing import Any

import click

from twitterclone_bench import options

SERVICES = ("users", "tweets", "timeline", "media", "notifications", "analytics")


def _replicas(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, ...]:
    try:
        counts = tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError:
        counts = ()
    if not counts or min(counts) < 1:
        raise click.BadParameter("a comma-separated list of replica counts, each at least 1", ctx, param)
    return counts


@click.command(name="scale")
@click.option(
    "--service",
    type=click.Choice(SERVICES),
    default="timeline",
    show_default=True,
    help="The service to scale.",
)
@click.option(
    "--replicas",
    default="1,2",
    show_default=True,
    callback=_replicas,
    help="Replica counts of the service, one split stack each, in this order.",
)
@click.option("--users", default=200, show_default=True, help="Synthetic graph size (accounts).")
@click.option("--avg-follows", default=5.0, show_default=True, help="Average follows per account.")
@click.option("--tweets-per-user", default=2, show_default=True, help="Tweets seeded per account.")
@click.option(
    "--mix",
    default="home=1",
    show_default=True,
    callback=options._mix,
    help="Route weights of the workload searched.",
)
@click.option("--start-rate", default=20.0, show_default=True, help="First search step (req/s).")
@options.search(step_s=5.0, steps=8)
@click.option(
    "--saturate-concurrency",
    default=16,
    show_default=True,
    type=click.IntRange(min=1),
    help="Closed-loop phase after the search: requests always in flight.",
)
@click.option(
    "--saturate",
    "saturate_s",
    default=10.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds of the closed-loop phase (0: none).",
)
@click.option(
    "--cpu-limit",
    type=click.FloatRange(min=0.01),
    default=None,
    help="Cores each replica of the scaled service may use (its own cgroup with a CPU quota, as a "
    "pod's resources.limits.cpu); needs root. Default: no limit.",
)
@click.option("--concurrency", default=16, show_default=True, help="Concurrent requests while seeding.")
@options.request_timeout()
@click.option(
    "--postgres-url",
    default=options.DEFAULT_POSTGRES_URL,
    show_default=True,
    help="A server to create (and drop) each stack's database tc_bench_<hex> on.",
)
@click.option(
    "--redis-url",
    default="redis://127.0.0.1:6379/0",
    show_default=True,
    help="The Redis the stack uses (under a key prefix of its own, deleted after).",
)
@options.output("Where the JSON goes.")
def scale(**given: Any) -> None:
    """One service with one replica and then two: the same workload's max rate on the split, in one run.

    Starts the split stack (deployments/split.toml, `twitterclone up`'s launcher, its own database
    and Redis prefix) once per replica count, seeds the same graph, and searches the workload's
    highest open-loop rate with p99 under the target, recording each process's CPU and the
    internal calls per request.
    """
    from twitterclone_bench.scale import ScaleConfig, run_scale

    try:
        run_scale(ScaleConfig(**given))
    except RuntimeError as exc:  # CpuLimitUnavailable included
        raise click.ClickException(str(exc)) from exc
