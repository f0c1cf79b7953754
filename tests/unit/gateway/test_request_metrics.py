"""The request metrics say what Litestar's Prometheus plugin said, for the same requests.

The gateway's ``RequestMetrics`` replaced the plugin (it cost a Request, a URL and four label
lookups per request); the ops view, ``bench scale`` and Prometheus servers read its families by
name and labels. Both run side by side here on twin apps (the plugin under another prefix), and
every sample must match: counts, errors, requests in flight, histogram counts and buckets.
"""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from litestar import Litestar, get, post
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, NotFoundException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.plugins.prometheus import PrometheusConfig
from litestar.testing import TestClient
from prometheus_client import REGISTRY

from twitterclone.gateway.request_metrics import request_metrics

PLUGIN_PREFIX = "plugin_twin"
APP_NAME = "twin"
#: The four families' samples (without the prefix), their ``_created`` timestamps left out.
#: (Durations differ between runs: their sums are left out too, their counts and buckets not.)
FAMILIES = frozenset(
    {
        "_requests_total",
        "_requests_error_total",
        "_requests_in_progress",
        "_request_duration_seconds_bucket",
        "_request_duration_seconds_count",
    }
)


async def refuse(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if connection.headers.get("x-refuse"):
        raise NotAuthorizedException("refused")


@get("/things/{thing_id:int}", guards=[refuse], sync_to_thread=False)
def thing(
    thing_id: Annotated[int, PathParameter()], n: Annotated[int, QueryParameter()] = 0
) -> dict[str, int]:
    if thing_id == 404:
        raise NotFoundException("no such thing")
    if thing_id == 500:
        raise RuntimeError("boom")
    return {"id": thing_id}


@post("/things", sync_to_thread=False)
def make(data: JSONBody[dict[str, int]]) -> dict[str, int]:
    return data


def twin(middleware: Any) -> Litestar:
    return Litestar(route_handlers=[thing, make], middleware=[middleware], debug=False)


def drive(app: Litestar) -> None:
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/things/1").status_code == 200
        assert client.get("/things/1").status_code == 200
        assert client.get("/things/2").status_code == 200
        assert client.get("/things/404").status_code == 404
        assert client.get("/things/500").status_code == 500
        assert client.get("/things/1", headers={"x-refuse": "1"}).status_code == 401
        assert client.get("/things/1?n=abc").status_code == 400
        assert client.get("/nowhere").status_code == 404  # unrouted: neither counts it
        assert client.delete("/things/1").status_code == 405  # nor this
        assert client.post("/things", json={"a": 1}).status_code == 201


def samples(prefix: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the four request families under ``prefix``, keyed by name and labels."""
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in REGISTRY.collect():
        for s in family.samples:
            if not s.name.startswith(prefix) or s.name.removeprefix(prefix) not in FAMILIES:
                continue
            labels = tuple(sorted(s.labels.items()))
            if s.labels.get("le") not in (None, "+Inf"):
                continue  # which finite bucket a duration fell in is timing, not behaviour
            out[(s.name.removeprefix(prefix), labels)] = s.value
    return out


@pytest.fixture
def before() -> dict[str, Any]:
    return {"ours": samples("twitterclone"), "plugin": samples(PLUGIN_PREFIX)}


def delta(now: dict[Any, float], then: dict[Any, float]) -> dict[Any, float]:
    return {
        k: v - then.get(k, 0.0) for k, v in now.items() if v - then.get(k, 0.0) or k[0].endswith("progress")
    }


def test_the_same_samples_as_litestars_plugin(before: dict[str, Any]) -> None:
    drive(twin(PrometheusConfig(app_name=APP_NAME, prefix=PLUGIN_PREFIX, group_path=True).middleware))
    drive(twin(request_metrics(APP_NAME)))
    ours = {
        k: v
        for k, v in delta(samples("twitterclone"), before["ours"]).items()
        if ("app_name", APP_NAME) in k[1]
    }
    plugin = delta(samples(PLUGIN_PREFIX), before["plugin"])
    assert ours == plugin
    # and the figures themselves, so that the comparison cannot pass on two empty sets
    route = (("app_name", APP_NAME), ("method", "GET"), ("path", "/things/{thing_id}"))

    def count(status: str) -> float:
        key = tuple(sorted((*route, ("status_code", status))))
        return ours.get(("_requests_total", key), 0.0)

    assert (count("200"), count("404"), count("500"), count("401"), count("400")) == (3, 1, 1, 1, 1)
    errors = [k for k in ours if k[0] == "_requests_error_total"]
    assert [dict(k[1])["status_code"] for k in errors] == ["500"]
    assert all(v == 0 for k, v in ours.items() if k[0] == "_requests_in_progress")
    assert not any("/nowhere" in str(k) for k in ours)
