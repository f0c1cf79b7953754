"""``twitterclone bench web-home``. Imports only click; the tool itself loads when it runs."""

from __future__ import annotations

from typing import Any

import click


@click.command(name="web-home")
@click.option(
    "--authors", default=20, show_default=True, type=click.IntRange(min=1), help="Accounts followed."
)
@click.option(
    "--requests", "requests_n", default=400, show_default=True, type=click.IntRange(min=10), help="Per route."
)
@click.option(
    "--rounds", default=3, show_default=True, type=click.IntRange(min=1), help="Alternating rounds."
)
@click.option("--out-dir", default="bench-results", show_default=True, help="Where the JSON goes.")
def web_home(**given: Any) -> None:
    """Server CPU per home read: the web client's page (GET /) against the JSON route.

    Starts a monolith (one worker), seeds a reader who follows ``--authors`` accounts with a full
    first page, signs the reader in both ways (a bearer token; a web session cookie), then reads
    each route ``--requests`` times one after the other, in alternating rounds, and divides the
    server process tree's CPU seconds by the requests served.
    """
    from twitterclone_bench.webhome import run_web_home

    run_web_home(**given)
