"""The ops view's arithmetic: figures from what the processes report, and what health means."""

from __future__ import annotations

import math
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from twitterclone.gateway.ops.picture import ModuleBox, ReplicaRow
from twitterclone.gateway.ops.readings import ProcessReading, Sample, quantile, read_families
from twitterclone.gateway.ops.view import _boxes, _pipeline, _rate, chart
from twitterclone.manifest import parse_manifest

ROOT = Path(__file__).resolve().parents[3]

METRICS = """
# TYPE twitterclone_requests_total counter
twitterclone_requests_total{method="GET",path="/_port/timeline/home",status_code="200",app_name="x"} 90.0
twitterclone_requests_total{method="GET",path="/_port/timeline/home",status_code="503",app_name="x"} 10.0
twitterclone_requests_total{method="GET",path="/metrics",status_code="200",app_name="x"} 500.0
# TYPE twitterclone_request_duration_seconds histogram
twitterclone_request_duration_seconds_bucket{method="GET",path="/_port/timeline/home",status_code="200",app_name="x",le="0.1"} 80.0
twitterclone_request_duration_seconds_bucket{method="GET",path="/_port/timeline/home",status_code="200",app_name="x",le="+Inf"} 100.0
twitterclone_request_duration_seconds_bucket{method="GET",path="/metrics",status_code="200",app_name="x",le="0.1"} 500.0
twitterclone_request_duration_seconds_bucket{method="GET",path="/metrics",status_code="200",app_name="x",le="+Inf"} 500.0
# TYPE twitterclone_remote_breaker_state gauge
twitterclone_remote_breaker_state{service="tweets",instance="a",address="h:1",state="closed"} 0.0
twitterclone_remote_breaker_state{service="tweets",instance="a",address="h:1",state="half-open"} 0.0
twitterclone_remote_breaker_state{service="tweets",instance="a",address="h:1",state="open"} 1.0
# TYPE twitterclone_remote_attempts counter
twitterclone_remote_attempts_total{service="tweets",instance="a",address="h:1",outcome="failure"} 7.0
# TYPE twitterclone_retry_budget_tokens gauge
twitterclone_retry_budget_tokens{service="tweets"} 2.5
# TYPE twitterclone_retry_budget_capacity gauge
twitterclone_retry_budget_capacity{service="tweets"} 10.0
# TYPE twitterclone_outbox_backlog gauge
twitterclone_outbox_backlog{module="timeline"} 4.0
"""  # noqa: E501 - Prometheus text lines are as long as their labels


def test_a_process_reading_leaves_housekeeping_out_and_keeps_breakers_budgets_and_outbox() -> None:
    reading = read_families("timeline", "h:2", text_string_to_metric_families(METRICS))
    assert reading.requests == 100  # /metrics scrapes are not work
    assert reading.errors == 10
    assert reading.latency == {0.1: 80.0, math.inf: 100.0}
    (breaker,) = reading.breakers
    assert (breaker.service, breaker.address, breaker.state, breaker.failures) == ("tweets", "h:1", "open", 7)
    (budget,) = reading.budgets
    assert (budget.tokens, budget.capacity) == (2.5, 10.0)
    assert reading.outbox == {"timeline": 4.0}


def test_quantiles_interpolate_inside_the_bucket_and_survive_a_restart() -> None:
    before = {0.1: 10.0, 0.5: 10.0, math.inf: 10.0}
    after = {0.1: 20.0, 0.5: 30.0, math.inf: 30.0}  # 10 new below 0.1 s, 10 new in (0.1, 0.5]
    assert quantile(0.5, before, after) == 0.1
    assert quantile(0.75, before, after) == 0.1 + 0.4 * 0.5
    assert quantile(0.5, after, after) is None  # nothing observed
    restarted = {0.1: 4.0, 0.5: 4.0, math.inf: 4.0}  # counters went down: count from zero
    assert quantile(0.99, after, restarted) is not None
    assert quantile(0.99, after, restarted) <= 0.1  # type: ignore[operator]


def _sample(at: float, requests: float, *, reachable: bool = True) -> Sample:
    reading = ProcessReading(role="tweets", address="h:1", reachable=reachable, requests=requests)
    return Sample(at=at, processes={("tweets", "h:1"): reading}, registered={"tweets": {"h:1"}})


def test_rates_come_from_counter_differences_and_a_restart_counts_from_zero() -> None:
    assert _rate("tweets", _sample(0, 100), _sample(5, 150), lambda r: r.requests) == 10
    assert _rate("tweets", _sample(0, 100), _sample(5, 20), lambda r: r.requests) == 4  # restarted
    assert _rate("tweets", _sample(0, 100), _sample(5, 150, reachable=False), lambda r: r.requests) is None


class _Runtime:
    def __init__(self, manifest: str) -> None:
        self.manifest = parse_manifest((ROOT / "deployments" / f"{manifest}.toml").read_text())
        self.local_modules = self.manifest.local_modules


def test_replica_health_reads_reachability_registration_and_every_callers_breaker() -> None:
    runtime = _Runtime("split")
    processes = {
        ("timeline", "127.0.0.1:8121"): ProcessReading(role="timeline", address="127.0.0.1:8121"),
        ("timeline", "127.0.0.1:8122"): ProcessReading(
            role="timeline", address="127.0.0.1:8122", reachable=False
        ),
        ("tweets", "127.0.0.1:8111"): ProcessReading(role="tweets", address="127.0.0.1:8111"),
    }
    processes[("timeline", "127.0.0.1:8121")].breakers = read_families(
        "timeline", "127.0.0.1:8121", text_string_to_metric_families(METRICS.replace("h:1", "127.0.0.1:8111"))
    ).breakers
    sample = Sample(at=0, processes=processes, registered={"timeline": {"127.0.0.1:8121", "127.0.0.1:8122"}})
    boxes = _boxes(runtime, sample)  # type: ignore[arg-type]
    timeline, tweets = boxes["timeline"], boxes["tweets"]
    assert [(r.address, r.health) for r in timeline.replicas] == [
        ("127.0.0.1:8121", "up"),
        ("127.0.0.1:8122", "down"),  # still registered, but it does not answer
    ]
    assert timeline.health == "degraded"
    assert tweets.replicas[0].health == "unregistered"  # answers, but not in the registry
    assert tweets.replicas[0].breaker == "open"  # as timeline's breaker sees it
    assert tweets.health == "down"
    assert boxes["users"].replicas == []  # nothing read for it at all: no replica to show


def test_a_module_in_the_gateway_is_up_with_it_and_a_service_without_replicas_is_down() -> None:
    assert ModuleBox(module="users", process="gateway").health == "up"
    assert ModuleBox(module="users", process="users").health == "down"
    both = ModuleBox(
        module="users",
        process="users",
        replicas=[ReplicaRow("a", "up", "closed"), ReplicaRow("b", "up", "closed")],
    )
    assert both.health == "up"


def test_the_outbox_of_a_module_with_replicas_is_one_table_not_a_sum() -> None:
    runtime = _Runtime("split")
    a = ProcessReading(role="timeline", address="a", outbox={"timeline": 5})
    b = ProcessReading(role="timeline", address="b", outbox={"timeline": 5})
    sample = Sample(at=0, processes={("timeline", "a"): a, ("timeline", "b"): b}, registered={})
    pipeline = _pipeline(runtime, [sample])  # type: ignore[arg-type]
    assert pipeline.outbox == [("timeline", "timeline", 5)]


def test_a_chart_scales_to_its_peak_and_keeps_a_bounded_number_of_points() -> None:
    c = chart([0, 5, 10], unit="/s", label="x")
    assert c.peak == "10.0/s"
    assert c.points.split() == ["0.0,34.0", "70.0,18.0", "140.0,2.0"]
    long = chart([float(i) for i in range(300)], unit="", label="y")
    assert len(long.points.split()) == 100
    assert long.peak == "299"
