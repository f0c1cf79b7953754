"""The same journeys against real processes of every manifest: monolith, split, hybrid."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import deployment
from tests.e2e.scenarios import bad_input_gets_problems, social_loop, still_there_after_restart


@pytest.mark.slow
@pytest.mark.parametrize("topology", ["monolith", "split", "hybrid"])
def test_social_loop_in_every_topology(topology: str, tmp_path: Path) -> None:
    with deployment(topology, tmp_path) as d, httpx.Client(base_url=d.base_url, timeout=10) as client:
        ids = social_loop(client)
        bad_input_gets_problems(client)
        d.restart_all()
        still_there_after_restart(client, ids)
