"""Measure the gateway's own CPU per request of each route of the mix: the modules' answers stubbed.

``measure_gateway_cpu.py`` times edge to answer with the modules' work included, and a home read's
module work (~250 µs, SQL and all) swings by more between runs on a shared machine than most
gateway changes move. This script builds and seeds the same monolith (its functions, its
workload), then replaces, on the port objects of this process only, the calls the mix makes
(``home_timeline``, ``user_timeline``, ``post``, ``like``, ``follow``) with stubs that answer
the first real answer every time. What is left is the gateway's and Litestar's work: the edge,
admission, rate limits, routing, guards and token checks, parameters, dependencies, the
handler's call and the encoding and sending of the same answer.

Measurement only: nothing here is used by the application. Compare trees by running against
each checkout, from its own directory (``PYTHONPATH=<checkout>/src:<checkout>``), alternately.

    PYTHONPATH=.:src .venv/bin/python scripts/measure_gateway_only_cpu.py --rounds 7 --requests 3000
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time
from collections import defaultdict
from typing import Any

# The script's own directory is first on sys.path: the workload is measure_gateway_cpu's.
from measure_gateway_cpu import ROUTES, Client, Workload, _lifespan, build_gateway, seed

#: The port calls of the mix, per port (what each route's handler awaits).
STUBBED = {
    "timeline": ("home_timeline", "user_timeline"),
    "tweets": ("post", "like"),
    "users": ("follow",),
}


def keep_first_answer(port: Any, name: str) -> None:
    """Replace ``port.name`` (on this object only) by a call that answers its first real answer."""
    real = getattr(port, name)
    kept: list[Any] = []

    async def stub(*args: Any, **kwargs: Any) -> Any:
        if not kept:
            kept.append(await real(*args, **kwargs))
        return kept[0]

    setattr(port, name, stub)


async def main(args: argparse.Namespace) -> None:
    from boundaries.timeline.port import TimelinePort
    from boundaries.tweets.port import TweetsPort
    from boundaries.users.port import UsersPort

    runtime, app = await build_gateway("gateway_only_cpu_")
    stop = await _lifespan(app)
    try:
        client = Client(app)
        tokens, ids, tweet_ids = await seed(client, args.users)
        await runtime.drain_events()
        ports = {
            "timeline": await runtime.container.get(TimelinePort),
            "tweets": await runtime.container.get(TweetsPort),
            "users": await runtime.container.get(UsersPort),
        }
        for port, names in STUBBED.items():
            for name in names:
                keep_first_answer(ports[port], name)
        work = Workload(client, tokens, ids, tweet_ids)
        routes = args.route or list(ROUTES)
        for route in routes:
            for _ in range(args.warmup):
                await work.one(route)
        await runtime.drain_events()
        times: dict[str, list[float]] = defaultdict(list)
        for _ in range(args.rounds):
            for route in routes:
                gc.collect()
                started = time.process_time()
                for _ in range(args.requests):
                    await work.one(route)
                times[route].append((time.process_time() - started) / args.requests * 1e6)
        print(f"gateway-only CPU per request (median of {args.rounds} rounds of {args.requests}), µs:")
        for route in routes:
            rounds = times[route]
            spread = ", ".join(f"{t:.0f}" for t in rounds)
            print(f"  {route:<14} {statistics.median(rounds):6.1f}   (min {min(rounds):.1f}; {spread})")
    finally:
        await stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=3000, help="requests per round and route")
    parser.add_argument("--rounds", type=int, default=7, help="rounds per route (the median is printed)")
    parser.add_argument("--warmup", type=int, default=300, help="requests per route first")
    parser.add_argument("--users", type=int, default=20, help="seeded accounts (each follows the others)")
    parser.add_argument("--route", action="append", choices=ROUTES, help="only these routes (repeatable)")
    asyncio.run(main(parser.parse_args()))
