"""How often could a home page kept per viewer be served again, unchanged, under the bench's mix?

Issue 14's target 1 (home reads at >= 40 % of the `/livez` ceiling) is measured on a run of home
reads alone. BENCHMARKS.md's arithmetic says only a page kept per viewer (served without rebuilding
it) could reach it. This script asks what such a page would be worth where writes happen: it builds
requests with the bench's own builder (``twitterclone_bench.workload.Workload``: the default mix,
uniformly chosen actors, likes on the newest tweets) on the synthetic graph of the bench's defaults,
plays them without a server, and for every home read checks whether the viewer's page is still what
it was at their previous home read:

- no account the viewer follows (or the viewer) posted since (a new entry on top);
- no tweet on the page was liked since (its counts changed);
- the viewer followed nobody since (a follow back-fills the home timeline).

Effects count as immediate (no fan-out lag), edits, deletes, blocks and profile changes do not
happen: both favour the kept page, so the share printed is an upper bound.

    PYTHONPATH=src:.:bench .venv/bin/python scripts/measure_kept_page_reuse.py --requests 200000
"""

from __future__ import annotations

import heapq
import random
from collections import defaultdict

import click

from twitterclone_bench.graph import synthetic
from twitterclone_bench.load import Request
from twitterclone_bench.options import DEFAULT_MIX
from twitterclone_bench.seed import Actor, Seeded
from twitterclone_bench.workload import Workload

PAGE = 20


@click.command()
@click.option("--users", default=1000, show_default=True, help="Synthetic graph size (bench's default).")
@click.option("--avg-follows", default=20.0, show_default=True)
@click.option("--tweets-per-user", default=3, show_default=True)
@click.option("--requests", default=200_000, show_default=True, help="Requests of the mix to play.")
@click.option("--seed", default=1, show_default=True)
def main(users: int, avg_follows: float, tweets_per_user: int, requests: int, seed: int) -> None:
    graph = synthetic(users, avg_follows, seed)
    actors = [Actor(index=i, user_id=str(i), handle=f"u{i}") for i in range(users)]
    # Seeded tweets, oldest first, each account's in turn (as the seeding posts them).
    tweet_ids: list[str] = []
    by_author: dict[int, list[int]] = defaultdict(list)  # author -> tweet numbers, oldest first
    for _ in range(tweets_per_user):
        for a in range(users):
            number = len(tweet_ids)
            tweet_ids.append(str(number))
            by_author[a].append(number)
    seeded = Seeded(actors, graph, tweet_ids, {}, {}, prefix="u")
    work = Workload("http://bench", seeded, dict(DEFAULT_MIX), seed=seed)
    # Whom each account follows: the workload's own map, as sets this replay adds follows to.
    follows: dict[int, set[int]] = defaultdict(set, {a: set(bs) for a, bs in work.followees.items()})

    clock = 0  # one tick per request
    last_post_by: dict[int, int] = {}  # author -> tick of their newest post
    last_like_on: dict[int, int] = {}  # tweet number -> tick of its newest like
    last_follow_by: dict[int, int] = {}  # viewer -> tick of their newest follow
    kept: dict[int, tuple[int, list[int]]] = {}  # viewer -> (tick of their last home read, its page)
    reads = reused = first = 0
    why: dict[str, int] = defaultdict(int)
    rng = random.Random(seed)

    def page_of(authors: set[int]) -> list[int]:
        return heapq.nlargest(PAGE, (t for a in authors for t in by_author[a][-PAGE:]))

    with click.progressbar(range(requests), label="playing the mix") as bar:
        for _ in bar:
            clock += 1
            route = work.route_at(clock)
            actor = rng.choice(actors)
            req: Request = work.build(route, actor)
            if route == "home":
                reads += 1
                authors = follows[actor.index] | {actor.index}
                page = page_of(authors)
                before = kept.get(actor.index)
                if before is None:
                    first += 1
                else:
                    since, old_page = before
                    posted = any(last_post_by.get(a, 0) > since for a in authors)
                    liked = any(last_like_on.get(t, 0) > since for t in old_page)
                    followed = last_follow_by.get(actor.index, 0) > since
                    if not (posted or liked or followed):
                        reused += 1
                        assert page == old_page
                    why["a followee posted"] += posted
                    why["a tweet on the page was liked"] += liked
                    why["the viewer followed someone"] += followed
                kept[actor.index] = (clock, page)
            elif route == "post":
                tid = len(tweet_ids)
                tweet_ids.append(str(tid))
                by_author[actor.index].append(tid)
                last_post_by[actor.index] = clock
                if req.after is not None:
                    req.after(b'{"id":"%d"}' % tid, 0.0)
            elif route == "like":
                tid = int(req.url.rsplit("/", 2)[-2])
                last_like_on[tid] = clock
            elif route == "follow":
                target = int(req.url.rsplit("/", 1)[-1])
                if target not in follows[actor.index]:
                    follows[actor.index].add(target)
                    last_follow_by[actor.index] = clock
    again = reads - first
    click.echo(f"{requests:,} requests of the mix {dict(DEFAULT_MIX)}")
    click.echo(f"{reads:,} home reads, {first:,} of them a viewer's first")
    share = 100 * reused / again
    click.echo(f"kept page still valid at the viewer's next read: {reused:,} of {again:,} = {share:.1f} %")
    for reason, n in sorted(why.items(), key=lambda kv: -kv[1]):
        click.echo(f"  changed because {reason}: {100 * n / again:.1f} % of reads (reasons overlap)")


if __name__ == "__main__":
    main()
