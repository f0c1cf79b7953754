"""Command-line options the bench subcommands share. Imports only click (the tools load when they run).

Each option's parameter name is the field of the subcommand's config dataclass it sets (``--duration``
sets ``duration_s``), so a command builds its config with ``Config(**options)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

#: DeathStarBench's 60/30/10 (home timeline, user timeline, post) with likes and follows carved out.
DEFAULT_MIX: dict[str, float] = {"home": 58, "user_timeline": 29, "post": 9, "like": 3, "follow": 1}
#: Routes a mix may name besides the default ones: the Mastodon home timeline
#: (GET /api/v1/timelines/home), to weigh the Mastodon adapter against the native route.
EXTRA_ROUTES: tuple[str, ...] = ("mastodon_home",)
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
POSITIVE = click.FloatRange(min=0, min_open=True)


def compose(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    """Several option decorators as one, applied in the order listed (as if stacked)."""

    def apply(command: F) -> F:
        for decorator in reversed(decorators):
            command = decorator(command)
        return command

    return apply


def parse_mix(text: str) -> dict[str, float]:
    """``"home=58,user_timeline=29,post=9,like=3,follow=1"`` -> weights (need not sum to 100)."""
    mix: dict[str, float] = {}
    for part in text.split(","):
        name, _, weight = part.partition("=")
        name = name.strip()
        if name not in DEFAULT_MIX and name not in EXTRA_ROUTES:
            known = ", ".join([*DEFAULT_MIX, *EXTRA_ROUTES])
            raise ValueError(f"unknown route {name!r} in mix (known: {known})")
        mix[name] = float(weight)
    if sum(mix.values()) <= 0:
        raise ValueError("the mix needs at least one positive weight")
    return mix


def _mix(ctx: click.Context, param: click.Parameter, value: str) -> dict[str, float]:
    try:
        return parse_mix(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from exc


def mix(help_: str) -> Callable[[F], F]:
    """``--mix``: route weights, parsed into ``mix`` (a bad mix is a usage error naming the option)."""
    default = ",".join(f"{route}={weight:g}" for route, weight in DEFAULT_MIX.items())
    return click.option("--mix", default=default, show_default=True, callback=_mix, help=help_)


def target(start_help: str) -> Callable[[F], F]:
    """Which server: ``--url`` of a running deployment, or ``--start-monolith`` (with its manifest, port)."""
    return compose(
        click.option(
            "--url",
            default="http://127.0.0.1:8000",
            show_default=True,
            help="Gateway of a running deployment.",
        ),
        click.option("--start-monolith", is_flag=True, help=start_help),
        click.option(
            "--manifest",
            default="deployments/monolith.toml",
            show_default=True,
            help="With --start-monolith.",
        ),
        click.option("--port", type=int, help="With --start-monolith: port (default: a free one)."),
    )


def graph(avg_follows: float) -> Callable[[F], F]:
    """The seeded follow graph: synthetic of a mean out-degree, or an edge-list file; tweets per account."""
    return compose(
        click.option(
            "--avg-follows",
            default=avg_follows,
            show_default=True,
            help="Synthetic graph: mean follows per user.",
        ),
        click.option("--graph", type=click.Path(exists=True, dir_okay=False), help="Edge-list file instead."),
        click.option("--tweets-per-user", default=3, show_default=True, help="Tweets seeded per account."),
    )


def seeding() -> Callable[[F], F]:
    """How seeding through the API runs: concurrency and how long to wait for its fan-out."""
    return compose(
        click.option(
            "--settle-timeout",
            "settle_timeout_s",
            default=600.0,
            show_default=True,
            help="Most seconds to wait for seeding's fan-out.",
        ),
        click.option(
            "--concurrency", default=16, show_default=True, help="Concurrent requests while seeding."
        ),
    )


def search(step_s: float, steps: int) -> Callable[[F], F]:
    """A rate search's step length, most steps, and the p99 every step must stay under."""
    return compose(
        click.option(
            "--search-step",
            "search_step_s",
            default=step_s,
            show_default=True,
            help="Seconds per search step.",
        ),
        click.option("--search-steps", default=steps, show_default=True, help="Most search steps."),
        click.option(
            "--p99-target",
            "p99_target_ms",
            default=100.0,
            show_default=True,
            help="p99 a search step must stay under (ms).",
        ),
    )


def run_length(what: str) -> Callable[[F], F]:
    """The measured run's length and warm-up."""
    return compose(
        click.option(
            "--duration", "duration_s", default=60.0, show_default=True, help=f"{what}: measured seconds."
        ),
        click.option(
            "--warmup", "warmup_s", default=10.0, show_default=True, help=f"{what}: seconds before measuring."
        ),
    )


def database() -> Callable[[F], F]:
    """Where an in-process monolith keeps its data: SQLite files, or a fresh PostgreSQL database."""
    return compose(
        click.option(
            "--database",
            type=click.Choice(["sqlite", "postgresql"]),
            default="sqlite",
            show_default=True,
            help="Where the modules' stores live.",
        ),
        click.option(
            "--postgres-url",
            default=DEFAULT_POSTGRES_URL,
            show_default=True,
            help="With --database postgresql: a server to create (and drop) a database tc_bench_<hex> on.",
        ),
    )


def client() -> Callable[[F], F]:
    """``--client``: what the load phases send with (the generator shares the server's cores)."""
    return click.option(
        "--client",
        type=click.Choice(["lean", "aiohttp"]),
        default="lean",
        show_default=True,
        help="Load phases' HTTP client: the lean keep-alive client (about a third of aiohttp's CPU "
        "per request, which the server gets back) or aiohttp, as before.",
    )


def request_timeout() -> Callable[[F], F]:
    return click.option(
        "--timeout", "timeout_s", default=10.0, show_default=True, help="Per-request timeout (s)."
    )


def output(where: str) -> Callable[[F], F]:
    """The random seed, and where the result files go (``where``: the help of ``--out-dir``)."""
    return compose(
        click.option("--seed", default=1, show_default=True, help="Random seed."),
        click.option("--out-dir", default="bench-results", show_default=True, help=where),
        click.option("--label", default="", help="Suffix for the result file names."),
    )
