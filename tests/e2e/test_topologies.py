"""The same journeys against real processes of every manifest: monolith, split, hybrid."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import Deployment, deployment
from tests.e2e.scenarios import (
    bad_input_gets_problems,
    content_loop,
    eventually,
    log_in,
    social_loop,
    still_there_after_restart,
)

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def _log_records(d: Deployment, process: str) -> list[dict[str, object]]:
    path = d.data_dir / "logs" / f"{process}.log"
    records = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
    return records


def request_is_traceable_across_hops(d: Deployment, client: httpx.Client, ids: dict[str, str]) -> None:
    """One request id and one trace id in the log of every process the request touched."""
    bob = log_in(client, "bob", ids["bob"])
    headers = {
        **bob.headers,
        "x-request-id": "e2e-trace-1",
        "traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01",
    }
    assert client.get("/api/timeline/home", headers=headers).status_code == 200

    def seen_in(process: str) -> bool:
        return any(
            r.get("request_id") == "e2e-trace-1" and r.get("trace_id") == TRACE_ID
            for r in _log_records(d, process)
        )

    eventually(lambda: seen_in("gateway-0"), 3.0, "request in the gateway's log")
    if d.manifest.module("timeline").placement == "remote":
        eventually(lambda: seen_in("timeline-0") or seen_in("timeline-1"), 3.0, "request in a timeline log")


@pytest.mark.slow
@pytest.mark.parametrize("topology", ["monolith", "split", "hybrid"])
def test_social_loop_in_every_topology(topology: str, tmp_path: Path) -> None:
    with deployment(topology, tmp_path) as d, httpx.Client(base_url=d.base_url, timeout=10) as client:
        ids = social_loop(client)
        content_loop(client, ids)
        bad_input_gets_problems(client)
        request_is_traceable_across_hops(d, client, ids)
        d.restart_all()
        still_there_after_restart(client, ids)
