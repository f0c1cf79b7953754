"""The operations view in the monolith: administrators only; it shows the deployment as it is.

The split and hybrid views, with killed replicas, are exercised in a real browser
(tests/browser/test_ops.py); here, the page's content and who may see it.
"""

from __future__ import annotations

import re

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from tests.api.oauth_support import make_admin
from tests.conftest import Api, User

#: What the view shows for a figure it cannot tell yet (an en dash).
UNKNOWN = "\u2013"


@pytest.fixture
def admin(client: TestClient[Litestar], api: Api) -> User:
    user = api.user("operator")
    make_admin(client, "operator")
    return user


def test_only_administrators_see_the_ops_view(client: TestClient[Litestar], api: Api) -> None:
    assert client.get("/ops").status_code == 401
    someone = api.user("someone")
    r = client.get("/ops", headers=someone.headers)
    assert r.status_code == 403
    assert r.json()["type"] == "/problems/admin-only"
    assert client.get("/ops/panel", headers=someone.headers).status_code == 403
    # A browser with no session is sent to sign in, and brought back here afterwards.
    r = client.get("/ops", headers={"accept": "text/html,*/*"}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/signin?next=/ops"
    assert client.get("/ops/panel", headers={"accept": "text/html"}).status_code == 401
    # Someone signed in but not an administrator, in a browser: a readable page, not JSON.
    page = client.get("/ops", headers={**someone.headers, "accept": "text/html"})
    assert page.status_code == 403
    assert page.headers["content-type"].startswith("text/html")
    assert "this needs an administrator" in page.text


def test_the_monolith_runs_every_module_in_the_gateway(
    client: TestClient[Litestar], api: Api, admin: User
) -> None:
    r = client.get("/ops", headers=admin.headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    html = r.text
    assert "<script>" not in html  # only the external script
    assert "deployment <strong>monolith</strong> (monolith)" in html
    for module in ("users", "tweets", "timeline", "media", "notifications", "analytics"):
        assert f'data-module="{module}"' in html
    assert html.count('class="sub">in the gateway process') == 12  # six boxes in each of two pictures
    # Calls inside one process are drawn dashed ("local"); a monolith has no other kind.
    assert 'class="call local"' in html
    assert 'class="call remote"' not in html
    assert "No call crosses a process boundary" in html
    assert "in-process bus" in html


def test_traffic_and_fan_out_appear_in_the_live_part(
    client: TestClient[Litestar], api: Api, admin: User
) -> None:
    client.get("/ops/panel", headers=admin.headers)  # the first sample: counters as they were
    author, reader = api.user("author"), api.user("reader")
    assert client.put(f"/api/users/me/following/{author.id}", headers=reader.headers).status_code == 200
    for i in range(5):
        assert (
            client.post("/api/tweets", json={"text": f"post {i}"}, headers=author.headers).status_code == 201
        )

    def panel() -> str:
        r = client.get("/ops/panel", headers=admin.headers)
        assert r.status_code == 200
        return r.text

    api.eventually(lambda: _gateway_rps(panel()) > 0, timeout_s=5)
    api.eventually(lambda: "Fan-out lag" in panel() and f"p99 {UNKNOWN}" not in panel(), timeout_s=5)
    html = panel()
    assert "<html" not in html  # a fragment, put in place by the page's script
    assert re.search(r"<th scope=\"row\">timeline</th><td>gateway</td><td>\d+</td>", html)


def _gateway_rps(html: str) -> float:
    row = re.search(r'<tr data-service="gateway">(.*?)</tr>', html, re.S)
    assert row is not None
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", row.group(1))
    return float(cells[1]) if cells[1] not in (UNKNOWN, "") else 0.0


def test_the_gateways_public_metrics_carry_no_internals(client: TestClient[Litestar], admin: User) -> None:
    panel = client.get("/ops/panel", headers=admin.headers).text
    assert re.search(r"<th scope=\"row\">users</th><td>gateway</td><td>\d+</td>", panel)  # read in-process
    public = client.get("/metrics").text
    assert "twitterclone_requests_total" in public
    for internal in ("twitterclone_outbox_backlog", "twitterclone_remote_", "twitterclone_process_info"):
        assert internal not in public
