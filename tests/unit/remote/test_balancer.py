"""Power of two choices, least outstanding."""

from __future__ import annotations

import random
from collections import Counter

from twitterclone.registry import Instance
from twitterclone.remote.balancer import Endpoint, P2CBalancer
from twitterclone.remote.breaker import CircuitBreaker


def endpoint(name: str, in_flight: int = 0) -> Endpoint:
    ep = Endpoint(Instance(service="s", instance_id=name, address=f"{name}:1"), CircuitBreaker())
    ep.in_flight = in_flight
    return ep


def test_of_two_it_always_takes_the_less_loaded() -> None:
    balancer = P2CBalancer(random.Random(1))
    busy, idle = endpoint("busy", 5), endpoint("idle", 1)
    assert {balancer.pick([busy, idle]) for _ in range(200)} == {idle}


def test_the_most_loaded_of_many_is_never_chosen() -> None:
    balancer = P2CBalancer(random.Random(2))
    eps = [endpoint(f"e{i}", in_flight=i) for i in range(4)]
    picks = Counter(balancer.pick(eps).key for _ in range(4000))  # type: ignore[union-attr]
    assert picks["e3"] == 0  # it loses every pair it is in
    assert picks["e0"] > picks["e1"] > picks["e2"] > 0  # e0 wins all 3 of its pairs, e1 two, e2 one


def test_equal_load_spreads_evenly() -> None:
    balancer = P2CBalancer(random.Random(3))
    eps = [endpoint(f"e{i}") for i in range(3)]
    picks = Counter(balancer.pick(eps).key for _ in range(3000))  # type: ignore[union-attr]
    assert all(800 < n < 1200 for n in picks.values()), picks


def test_one_instance_is_used_and_none_gives_none() -> None:
    balancer = P2CBalancer()
    only = endpoint("only", 100)
    assert balancer.pick([only]) is only
    assert balancer.pick([]) is None


def test_open_breakers_are_skipped_and_all_open_gives_none() -> None:
    balancer = P2CBalancer(random.Random(4))
    bad, good = endpoint("bad"), endpoint("good", 50)
    for _ in range(5):
        bad.breaker.record_failure()
    assert {balancer.pick([bad, good]) for _ in range(50)} == {good}
    for _ in range(5):
        good.breaker.record_failure()
    assert balancer.pick([bad, good]) is None


def test_avoid_prefers_another_instance_but_falls_back() -> None:
    balancer = P2CBalancer(random.Random(5))
    a, b = endpoint("a"), endpoint("b", 9)
    assert {balancer.pick([a, b], avoid={"a"}) for _ in range(50)} == {b}
    assert balancer.pick([a], avoid={"a"}) is a
