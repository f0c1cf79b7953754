"""The retry budget keeps retries to about ``ratio`` of calls."""

from __future__ import annotations

import pytest

from twitterclone.remote.budget import RetryBudget


@pytest.mark.parametrize("ratio", [0.1, 0.2, 0.5])
def test_retries_stay_within_the_ratio_when_everything_fails(ratio: float) -> None:
    budget = RetryBudget(ratio)
    calls = 10_000
    retries = 0
    for _ in range(calls):
        budget.deposit()
        for _ in range(3):  # a caller that would retry every failure up to 3 times
            if not budget.try_spend():
                break
            retries += 1
    assert retries <= ratio * calls + budget.cap  # + the bucket it starts with
    assert retries >= ratio * calls - 1  # and the budget is actually usable


def test_steady_failure_is_held_to_the_ratio_once_the_reserve_is_spent() -> None:
    budget = RetryBudget(0.2)
    for _ in range(100):  # a burst of failures drains the reserve
        budget.try_spend()
    retries = 0
    for _ in range(1000):
        budget.deposit()
        if budget.try_spend():
            retries += 1
    assert retries == 200


def test_a_fresh_client_can_retry_its_first_failures() -> None:
    budget = RetryBudget(0.2, cap=10)
    assert [budget.try_spend() for _ in range(11)] == [True] * 10 + [False]
    assert budget.refused == 1


def test_the_balance_is_capped() -> None:
    budget = RetryBudget(0.5, cap=3)
    for _ in range(1000):
        budget.deposit()
    assert budget.tokens == 3
    assert [budget.try_spend() for _ in range(4)] == [True, True, True, False]


def test_five_calls_at_20_percent_buy_one_retry() -> None:
    budget = RetryBudget(0.2, initial=0)
    for _ in range(4):
        budget.deposit()
    assert not budget.try_spend()
    budget.deposit()
    assert budget.try_spend()
