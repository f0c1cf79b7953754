"""Follow graphs for the benchmark: synthetic power-law, or an undirected edge list from a file.

The synthetic graph is a directed Chung-Lu-style graph: every user gets a popularity weight drawn
from a Pareto distribution (alpha 1.1, so in-degrees follow a heavy tail as on Twitter) and an
out-degree drawn from a second, gentler Pareto distribution scaled to the requested mean. Each user
then follows ``out_degree`` distinct others picked with probability proportional to their weight.
The result has a few very popular accounts, a long tail of accounts with a handful of followers,
and a mean of ``avg_follows`` follows per user. It is seeded, so a size and a seed give one graph.
"""

from __future__ import annotations

import bisect
import itertools
import random
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class FollowGraph:
    """``users`` accounts numbered 0..users-1 and directed ``(follower, followee)`` edges."""

    users: int
    edges: list[tuple[int, int]]
    source: str
    followers: dict[int, list[int]] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for a, b in self.edges:
            self.followers.setdefault(b, []).append(a)

    @property
    def avg_follows(self) -> float:
        return len(self.edges) / self.users if self.users else 0.0

    def describe(self) -> dict[str, object]:
        """Size and degree shape, for the report."""
        indeg = sorted((len(v) for v in self.followers.values()), reverse=True)
        indeg += [0] * (self.users - len(indeg))
        return {
            "source": self.source,
            "users": self.users,
            "follows": len(self.edges),
            "avg_follows": round(self.avg_follows, 1),
            "max_followers": indeg[0] if indeg else 0,
            "median_followers": indeg[len(indeg) // 2] if indeg else 0,
        }


def synthetic(users: int, avg_follows: float = 20.0, seed: int = 1) -> FollowGraph:
    """A directed power-law follow graph (see the module docstring)."""
    if users < 2:
        return FollowGraph(users, [], f"synthetic power-law ({users} users)")
    rng = random.Random(seed)
    popularity = [rng.paretovariate(1.1) for _ in range(users)]
    cum = list(itertools.accumulate(popularity))
    total = cum[-1]
    activity = [rng.paretovariate(2.5) for _ in range(users)]
    scale = avg_follows / (sum(activity) / users)
    edges: list[tuple[int, int]] = []
    for u in range(users):
        want = max(1, min(users - 1, round(activity[u] * scale)))
        chosen: set[int] = set()
        tries = 0
        while len(chosen) < want and tries < want * 20:
            tries += 1
            v = bisect.bisect_left(cum, rng.random() * total)
            if v != u and v < users:
                chosen.add(v)
        edges.extend((u, v) for v in sorted(chosen))
    return FollowGraph(users, edges, f"synthetic power-law ({users} users, ~{avg_follows:g} follows each)")


def from_edge_list(path: str | Path) -> FollowGraph:
    """An undirected ``a b`` edge list (zero-based ids; ``%``/``#`` comments); each edge followed both ways.

    This is how DeathStarBench seeds socfb-Reed98. Node ids are renumbered densely.
    """
    ids: dict[int, int] = {}
    pairs: set[tuple[int, int]] = set()
    with Path(path).open() as fh:
        for line in fh:
            parts = line.split()
            if len(parts) < 2 or parts[0][0] in "%#":
                continue
            a, b = (ids.setdefault(int(x), len(ids)) for x in parts[:2])
            if a != b:
                pairs.add((a, b))
                pairs.add((b, a))
    return FollowGraph(len(ids), sorted(pairs), f"edge list {Path(path).name} (both directions followed)")
