"""Measure the gateway's CPU per request of each route of the mixed workload, in-process.

Builds the monolith (SQLite, a fresh data directory) and its gateway app exactly as ``serve``
does (``create_app``, rate limits on with budgets no run reaches, as ``bench`` sets them), runs
its lifespan, registers ``--users`` accounts through the API, lets the first follow the others and
each post a few tweets, and then calls the ASGI app directly, with the scopes and bodies a client's
requests would give granian, one route at a time: ``livez``, ``home``, ``user_timeline``, ``post``,
``like``, ``follow`` (the routes of ``bench mix-cost``). No sockets, no server: what is timed is
the application's own work, edge to answer, with the modules' work included.

Each route: ``--rounds`` rounds of ``--requests`` requests, ``time.process_time`` per round, the
median printed in µs per request (the event loop's consequences of writes, fan-out and
notifications, run between rounds and are not counted). ``--profile`` instead runs every route
under ``cProfile`` and prints, per route, where the time went by area (gateway, Litestar, dishka,
modules, SQL, ...), and the top functions by own time, so the gateway's share can be ranked.
Compare trees by running against each checkout (``PYTHONPATH=<checkout>/src:<checkout>``),
alternately.

    PYTHONPATH=.:src .venv/bin/python scripts/measure_gateway_cpu.py --requests 2000
    PYTHONPATH=.:src .venv/bin/python scripts/measure_gateway_cpu.py --profile --route home
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import os
import pstats
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

MONOLITH = Path(__file__).resolve().parent.parent / "deployments" / "monolith.toml"
ROUTES = ("livez", "home", "user_timeline", "post", "like", "follow")
#: A throwaway password for the seeded accounts of a throwaway data directory.
SEED_PASSWORD = "correct horse battery"  # noqa: S105
#: Budgets no run reaches: the limiter runs (its cost is the gateway's) but never refuses.
HUGE_BUDGET = "1000000000/1"
#: Where a profiled function's time is counted: the first fragment of its file path that matches.
AREAS = (
    ("gateway", "/twitterclone/gateway/"),
    ("infra", "/twitterclone/infra/"),
    ("twitterclone other", "/twitterclone/"),
    ("modules", "/modules/"),
    ("boundaries", "/boundaries/"),
    ("litestar", "/litestar/"),
    ("dishka", "/dishka/"),
    ("sqlalchemy", "/sqlalchemy/"),
    ("prometheus", "/prometheus_client/"),
    ("asyncio", "/asyncio/"),
)


class Client:
    """Calls the ASGI app as a server would: one scope, the body in one message, the answer kept."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def call(
        self, method: str, path: str, *, token: str | None = None, body: bytes = b"", query: bytes = b""
    ) -> tuple[int, bytes]:
        headers = [(b"host", b"127.0.0.1:8000"), (b"accept", b"application/json")]
        if token is not None:
            headers.append((b"authorization", b"Bearer " + token.encode()))
        if body:
            headers.append((b"content-type", b"application/json"))
            headers.append((b"content-length", str(len(body)).encode()))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": query,
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }
        sent = False
        status = 0
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # the client never disconnects
            raise AssertionError

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        return status, b"".join(chunks)

    async def json(self, method: str, path: str, expect: int, **kwargs: Any) -> Any:
        status, body = await self.call(method, path, **kwargs)
        if status != expect:
            raise RuntimeError(f"{method} {path}: {status} {body[:300]!r}")
        return msgspec.json.decode(body) if body else None


async def _lifespan(app: Any) -> Callable[[], Any]:
    """Start the app's lifespan; returns a coroutine function that shuts it down."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    task = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, outbox.put))
    await inbox.put({"type": "lifespan.startup"})
    started = await outbox.get()
    if started["type"] != "lifespan.startup.complete":
        raise RuntimeError(f"startup failed: {started}")

    async def stop() -> None:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await task

    return stop


class Workload:
    """The requests of each route, made from the seeded accounts (as bench's Workload does)."""

    def __init__(self, client: Client, tokens: list[str], ids: list[str], tweet_ids: list[str]) -> None:
        self.client = client
        self.tokens = tokens
        self.ids = ids
        self.tweet_ids = tweet_ids
        self.n = 0

    async def one(self, route: str) -> None:
        self.n += 1
        n = self.n
        token = self.tokens[n % len(self.tokens)]
        c = self.client
        if route == "livez":
            status, _ = await c.call("GET", "/livez")
        elif route == "home":
            status, _ = await c.call("GET", "/api/timeline/home", token=token, query=b"limit=20")
        elif route == "user_timeline":
            user = self.ids[n % len(self.ids)]
            status, _ = await c.call("GET", f"/api/users/{user}/tweets", token=token, query=b"limit=20")
        elif route == "post":
            body = msgspec.json.encode({"text": f"post number {n} of the driver #gw"})
            status, _ = await c.call("POST", "/api/tweets", token=token, body=body)
        elif route == "like":
            tweet = self.tweet_ids[n % len(self.tweet_ids)]
            status, _ = await c.call("PUT", f"/api/tweets/{tweet}/like", token=token)
        elif route == "follow":
            other = self.ids[(n * 7 + 3) % len(self.ids)]
            if other == self.ids[n % len(self.tokens)]:
                other = self.ids[(n * 7 + 4) % len(self.ids)]
            status, _ = await c.call("PUT", f"/api/users/me/following/{other}", token=token)
        else:
            raise ValueError(route)
        if status >= 400:
            raise RuntimeError(f"{route}: {status}")


async def seed(client: Client, users: int) -> tuple[list[str], list[str], list[str]]:
    tokens: list[str] = []
    ids: list[str] = []
    for i in range(users):
        account = await client.json(
            "POST",
            "/api/auth/register",
            201,
            body=msgspec.json.encode(
                {"handle": f"d{i}", "email": f"d{i}@example.org", "password": SEED_PASSWORD}
            ),
        )
        ids.append(account["profile"]["id"])
        pair = await client.json(
            "POST",
            "/api/auth/login",
            200,
            body=msgspec.json.encode({"login": f"d{i}", "password": SEED_PASSWORD}),
        )
        tokens.append(pair["access_token"])
    for i, token in enumerate(tokens):
        for other in ids:
            if other != ids[i]:
                await client.json("PUT", f"/api/users/me/following/{other}", 200, token=token)
    tweet_ids: list[str] = []
    for n in range(3):
        for token in tokens:
            body = msgspec.json.encode({"text": f"seed {n} #gw"})
            tweet_ids.append((await client.json("POST", "/api/tweets", 201, token=token, body=body))["id"])
    return tokens, ids, tweet_ids


def _area(filename: str) -> str:
    for name, fragment in AREAS:
        if fragment in filename:
            return name
    if filename.startswith("~") or filename == "<built-in>":
        return "builtins (C)"
    return "other"


def _report_profile(route: str, profile: cProfile.Profile, requests: int, top: int) -> None:
    stats = pstats.Stats(profile)
    by_area: dict[str, float] = defaultdict(float)
    rows = []
    for (filename, line, func), (_, calls, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        by_area[_area(filename)] += tottime
        rows.append((tottime, calls, f"{Path(filename).name}:{line} {func}", filename))
    total = sum(by_area.values())
    print(f"\n== {route}: {total / requests * 1e6:.0f} µs per request under cProfile")
    for name, seconds in sorted(by_area.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<20} {seconds / requests * 1e6:7.1f} µs  {seconds / total:6.1%}")
    print(f"  top {top} functions by own time (µs per request, calls per request):")
    for tottime, calls, where, filename in sorted(rows, reverse=True)[:top]:
        print(f"  {tottime / requests * 1e6:7.1f}  {calls / requests:6.1f}  {_area(filename):<12} {where}")


async def main(args: argparse.Namespace) -> None:
    os.environ.setdefault("TWITTERCLONE_LOG_LEVEL", "WARNING")
    from twitterclone.composition import build_runtime
    from twitterclone.gateway.app import create_app
    from twitterclone.manifest import load_manifest
    from twitterclone.migrate import migrate_deployment
    from twitterclone.settings import Settings

    manifest = load_manifest(MONOLITH)
    budgets = {
        name: HUGE_BUDGET
        for name in Settings.__struct_fields__  # type: ignore[attr-defined]
        if name.startswith("rate_") and name not in ("rate_limit_enabled", "rate_trusted_proxy_hops")
    }
    settings = Settings(
        data_dir=tempfile.mkdtemp(prefix="gateway_cpu_"),
        manifest=str(MONOLITH),
        argon2_time_cost=1,
        argon2_memory_kib=8192,
        argon2_parallelism=1,
        log_level="WARNING",
        **budgets,
    )
    await migrate_deployment(manifest, settings)  # every module's store (the monolith hosts them all)
    runtime = build_runtime(manifest, settings)
    app = create_app(settings, manifest, runtime)
    stop = await _lifespan(app)
    try:
        client = Client(app)
        tokens, ids, tweet_ids = await seed(client, args.users)
        await runtime.drain_events()
        work = Workload(client, tokens, ids, tweet_ids)
        routes = args.route or list(ROUTES)
        for route in routes:  # warm every path (caches, routing, the first token checks)
            for _ in range(args.warmup):
                await work.one(route)
        await runtime.drain_events()
        if args.profile:
            for route in routes:
                gc.collect()
                profile = cProfile.Profile()
                profile.enable()
                for _ in range(args.requests):
                    await work.one(route)
                profile.disable()
                await runtime.drain_events()
                _report_profile(route, profile, args.requests, args.top)
            return
        times: dict[str, list[float]] = defaultdict(list)
        for _ in range(args.rounds):
            for route in routes:
                gc.collect()
                started = time.process_time()
                for _ in range(args.requests):
                    await work.one(route)
                times[route].append((time.process_time() - started) / args.requests * 1e6)
                await runtime.drain_events()
        print(f"CPU per request, in-process (median of {args.rounds} rounds of {args.requests}), µs:")
        for route in routes:
            spread = ", ".join(f"{t:.0f}" for t in times[route])
            print(f"  {route:<14} {statistics.median(times[route]):7.0f}   ({spread})")
    finally:
        await stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    parser.add_argument("--requests", type=int, default=1000, help="requests per round and route")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per route (the median is printed)")
    parser.add_argument("--warmup", type=int, default=200, help="requests per route first")
    parser.add_argument("--users", type=int, default=20, help="seeded accounts (each follows the others)")
    parser.add_argument("--route", action="append", choices=ROUTES, help="only these routes (repeatable)")
    parser.add_argument("--profile", action="store_true", help="cProfile each route instead of timing it")
    parser.add_argument("--top", type=int, default=25, help="functions listed per route with --profile")
    asyncio.run(main(parser.parse_args()))
