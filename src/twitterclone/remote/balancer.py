"""Client-side load balancing: power of two choices, least outstanding.

Pick two distinct instances at random and send to the one with fewer calls in flight. Nearly as
good as "least loaded of all" without scanning everything or herding onto one instance after a
stale observation (Mitzenmacher; Finagle's default ``P2CLeastLoaded``).
"""

from __future__ import annotations

import random
from collections.abc import Collection, Sequence

from twitterclone.registry.base import Instance
from twitterclone.remote.breaker import CircuitBreaker


class Endpoint:
    """One instance as a client sees it: its breaker and its calls in flight."""

    __slots__ = ("breaker", "failures", "in_flight", "instance", "successes")

    def __init__(self, instance: Instance, breaker: CircuitBreaker) -> None:
        self.instance = instance
        self.breaker = breaker
        self.in_flight = 0
        self.successes = 0
        self.failures = 0

    @property
    def key(self) -> str:
        return self.instance.instance_id

    def __repr__(self) -> str:
        return f"Endpoint({self.instance.address}, {self.breaker.state}, in_flight={self.in_flight})"


class P2CBalancer:
    """Power of two choices over the instances whose breaker admits calls."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()  # load spreading, not security

    def pick(
        self,
        endpoints: Sequence[Endpoint],
        *,
        avoid: Collection[str] = (),
    ) -> Endpoint | None:
        """The less loaded of two random usable endpoints; None if none is usable.

        ``avoid`` (instance ids already tried by this call) is honoured when another usable
        endpoint exists, so a retry goes elsewhere when it can.
        """
        usable = [e for e in endpoints if e.breaker.available()]
        preferred = [e for e in usable if e.key not in avoid] or usable
        if not preferred:
            return None
        if len(preferred) == 1:
            return preferred[0]
        a, b = self._rng.sample(preferred, 2)
        return a if a.in_flight <= b.in_flight else b  # a tie goes to the random first pick
