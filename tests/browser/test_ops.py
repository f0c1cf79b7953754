"""The operations view in a real browser, on real processes (issue 13, items 2 and 3).

On the split deployment, a killed timeline replica shows as down within seconds and as up
again once restarted, while the page updates itself (no reload). Screenshots of /ops at
desktop and phone widths go to test-output/screenshots/ (docs/ops-view.png is one of them).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import NewPage, Screenshot, grant_admin, page_errors, served
from tests.e2e.harness import Deployment
from tests.e2e.scenarios import PASSWORD, Account, sign_up
from twitterclone.composition import port_dependencies

#: What the view shows for a figure it cannot tell yet (an en dash).
UNKNOWN = "\u2013"


def _admin(d: Deployment, handle: str) -> Account:
    """A new account made administrator (the role is checked per request, so its token serves)."""
    with httpx.Client(base_url=d.base_url, timeout=10) as client:
        account = sign_up(client, handle)
    grant_admin(d, handle)
    return account


class Traffic:
    """A little steady load (posts, follows, home reads), so the figures and charts move."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=5) as client:
            author, reader = sign_up(client, "loadauthor"), sign_up(client, "loadreader")
            client.put(f"/api/users/me/following/{author.id}", headers=reader.headers)
            n = 0
            while not self.stop.is_set():
                n += 1
                try:
                    if n % 4 == 0:
                        client.post("/api/tweets", json={"text": f"load {n}"}, headers=author.headers)
                    else:
                        client.get("/api/timeline/home?limit=20", headers=reader.headers)
                except httpx.HTTPError:
                    pass  # a killed replica may cost a request; the view shows it
                time.sleep(0.05)


@pytest.fixture
def traffic() -> Iterator[list[Traffic]]:
    running: list[Traffic] = []
    yield running
    for t in running:
        t.stop.set()
        t.thread.join(timeout=10)


def _start(traffic: list[Traffic], d: Deployment) -> None:
    t = Traffic(d.base_url)
    t.thread.start()
    traffic.append(t)


def test_an_administrator_signed_in_to_the_web_client_sees_the_monolith_view(
    monolith: Deployment, new_page: NewPage, screenshot: Screenshot, traffic: list[Traffic]
) -> None:
    _admin(monolith, "opsmono")
    _start(traffic, monolith)
    # A person: opens /ops, is asked to sign in (the web client's page), and lands back on /ops.
    page = new_page()
    page.goto(f"{monolith.base_url}/ops")
    expect(page).to_have_url(f"{monolith.base_url}/signin?next=/ops")
    page.get_by_label("Handle or email").fill("opsmono")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{monolith.base_url}/ops")
    expect(page.locator("h1")).to_have_text("Operations")
    expect(page.locator("svg.topology.wide g.module")).to_have_count(6)
    expect(page.locator("svg.topology.wide g.module.in-gateway")).to_have_count(6)
    _wait_for_traffic(page)
    assert page_errors(page) == []
    screenshot(page, "ops-monolith")


def _wait_for_traffic(page: Page) -> None:
    """The live part updates by itself until the gateway's request rate shows."""
    rate = page.locator('tr[data-service="gateway"] td').nth(1)
    expect(rate).not_to_have_text(UNKNOWN, timeout=15_000)
    expect(rate).not_to_have_text("0.0", timeout=15_000)


def test_a_killed_replica_goes_down_and_comes_back_in_the_split_view(
    tmp_path: Path, new_page: NewPage, screenshot: Screenshot, traffic: list[Traffic]
) -> None:
    with served("split", tmp_path) as d:
        admin = _admin(d, "opssplit")
        _start(traffic, d)
        page = new_page(headers=admin.headers)
        page.goto(f"{d.base_url}/ops")
        expect(page.locator("p.sub")).to_contain_text("(split)")
        victim = d.launcher.find("timeline", 1)
        replica = page.locator(f'svg.topology.wide g.replica[data-address="{victim.spec.address}"]')
        timeline = page.locator('svg.topology.wide g.module[data-module="timeline"]')
        expect(page.locator("svg.topology.wide g.module.service")).to_have_count(6)
        edges = sum(len(callees) for callees in port_dependencies().values())
        expect(page.locator("svg.topology.wide line.call.remote")).to_have_count(edges)
        expect(replica).to_have_attribute("data-health", "up", timeout=15_000)
        expect(timeline).to_have_class("module service health-up", timeout=15_000)
        _wait_for_traffic(page)
        screenshot(page, "ops-split")

        killed_at = time.monotonic()
        d.launcher.kill(victim)
        expect(replica).to_have_attribute("data-health", "down", timeout=10_000)
        went_down_s = time.monotonic() - killed_at
        expect(timeline).to_have_class("module service health-degraded")
        expect(page.locator('tr[data-service="timeline"] td').first).to_have_text("1/2")
        screenshot(page, "ops-split-replica-down")

        d.launcher.restart(victim)
        restarted_at = time.monotonic()
        expect(replica).to_have_attribute("data-health", "up", timeout=60_000)
        came_back_s = time.monotonic() - restarted_at
        expect(timeline).to_have_class("module service health-up", timeout=30_000)
        expect(page.locator('tr[data-service="timeline"] td').first).to_have_text("2/2")
        assert went_down_s < 10
        assert came_back_s < 60
        assert page_errors(page) == []
        screenshot(page, "ops")


def test_the_hybrid_view_shows_which_calls_stay_in_the_gateway(
    tmp_path: Path, new_page: NewPage, screenshot: Screenshot, traffic: list[Traffic]
) -> None:
    with served("hybrid", tmp_path) as d:
        admin = _admin(d, "opshybrid")
        _start(traffic, d)
        page = new_page(headers=admin.headers)
        page.goto(f"{d.base_url}/ops")
        wide = page.locator("svg.topology.wide")
        expect(page.locator("p.sub")).to_contain_text("(hybrid)")
        expect(wide.locator("g.module.in-gateway")).to_have_count(3)  # users, tweets, timeline
        expect(wide.locator("g.module.service")).to_have_count(3)  # media, notifications, analytics
        # Calls among users, tweets and timeline stay in the gateway's process (e.g. timeline ->
        # tweets); calls to or from the others cross the network (e.g. tweets -> media).
        in_gateway = set(d.manifest.local_modules)
        calls = [(a, b) for a, callees in port_dependencies().items() for b in callees]
        local = [c for c in calls if c[0] in in_gateway and c[1] in in_gateway]
        assert ("timeline", "tweets") in local
        assert ("tweets", "media") in calls
        assert ("tweets", "media") not in local
        expect(wide.locator("line.call.local")).to_have_count(len(local))
        expect(wide.locator("line.call.remote")).to_have_count(len(calls) - len(local))
        for module in ("media", "notifications", "analytics"):
            box = wide.locator(f'g.module[data-module="{module}"]')
            expect(box).to_have_class("module service health-up", timeout=15_000)
        services = page.locator("table.services tbody tr")
        expect(services).to_have_count(4)  # the gateway and three services
        _wait_for_traffic(page)
        assert page_errors(page) == []
        screenshot(page, "ops-hybrid")
