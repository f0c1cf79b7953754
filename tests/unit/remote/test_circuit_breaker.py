"""The per-instance circuit breaker, driven by a fake clock."""

from __future__ import annotations

import random

import pytest

from twitterclone.remote.breaker import BreakerState, CircuitBreaker


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def breaker(clock: FakeClock, *, rng: float = 0.5, threshold: int = 5) -> CircuitBreaker:
    # rng() == 0.5 means "no jitter": 1 + 0.2 * (2 * 0.5 - 1) == 1
    return CircuitBreaker(failure_threshold=threshold, clock=clock, rng=lambda: rng)


def fail(b: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        assert b.allow()
        b.record_failure()


def test_opens_after_n_consecutive_failures_and_refuses_calls() -> None:
    clock = FakeClock()
    b = breaker(clock)
    fail(b, 4)
    assert b.state is BreakerState.CLOSED
    assert b.allow()
    b.record_failure()
    assert b.state is BreakerState.OPEN
    assert not b.allow()
    assert not b.available()


def test_a_success_resets_the_consecutive_count() -> None:
    b = breaker(FakeClock())
    fail(b, 4)
    b.record_success()
    fail(b, 4)
    assert b.state is BreakerState.CLOSED
    assert b.consecutive_failures == 4


def test_after_the_backoff_exactly_one_probe_is_admitted() -> None:
    clock = FakeClock()
    b = breaker(clock)
    fail(b, 5)
    clock.advance(0.99)
    assert not b.allow()
    clock.advance(0.02)
    assert b.available()
    assert b.allow()  # the probe
    assert b.state is BreakerState.HALF_OPEN
    assert not b.available()
    assert not b.allow()  # everyone else waits for the probe's verdict
    assert not b.allow()


def test_probe_success_closes() -> None:
    clock = FakeClock()
    b = breaker(clock)
    fail(b, 5)
    clock.advance(1.0)
    assert b.allow()
    b.record_success()
    assert b.state is BreakerState.CLOSED
    assert all(b.allow() for _ in range(10))
    # and the backoff starts from the base again next time
    fail(b, 5)
    assert b.last_backoff_s == pytest.approx(1.0)


def test_probe_failure_reopens_with_a_doubled_backoff_capped_at_30s() -> None:
    clock = FakeClock()
    b = breaker(clock)
    fail(b, 5)
    seen = [b.last_backoff_s]
    for _ in range(7):
        clock.advance(b.open_until - clock.now)
        assert b.allow()
        b.record_failure()
        assert b.state is BreakerState.OPEN
        seen.append(b.last_backoff_s)
    assert seen == pytest.approx([1, 2, 4, 8, 16, 30, 30, 30])


def test_a_cancelled_probe_frees_the_slot() -> None:
    clock = FakeClock()
    b = breaker(clock)
    fail(b, 5)
    clock.advance(1.0)
    assert b.allow()
    b.release()
    assert b.allow()  # another caller may probe


@pytest.mark.parametrize("trips", [1, 3, 10])
def test_jitter_stays_within_20_percent(trips: int) -> None:
    rng = random.Random(7)
    b = CircuitBreaker(clock=FakeClock(), rng=rng.random)
    nominal = min(30.0, 2.0 ** (trips - 1))
    samples = [b.backoff_s(trips) for _ in range(2000)]
    assert min(samples) >= nominal * 0.8
    assert max(samples) <= nominal * 1.2
    # and it really is spread (not a constant): both ends of the range are used
    assert min(samples) < nominal * 0.85
    assert max(samples) > nominal * 1.15


def test_recent_failures_forget_old_ones() -> None:
    clock = FakeClock()
    b = CircuitBreaker(clock=clock, failure_threshold=100, window_s=60)
    fail(b, 3)
    clock.advance(61)
    fail(b, 2)
    assert b.recent_failures() == 2
