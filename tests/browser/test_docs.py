"""The API docs page renders the OpenAPI 3.1 document in a real browser (issue 13, item 4).

A status-code check cannot see what broke here before: the old bundled Swagger UI answered 200
and then showed "Unable to render this definition" for a 3.1 document.
"""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import Screenshot, page_errors
from tests.e2e.harness import Deployment


def test_the_schema_page_renders_every_operation_from_local_assets(
    monolith: Deployment, page: Page, screenshot: Screenshot
) -> None:
    origin = monolith.base_url
    elsewhere: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(origin) else elsewhere.append(r.url))

    response = page.goto(f"{origin}/schema")
    assert response is not None
    assert response.status == 200
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp

    # Swagger UI read the document: its title, the OpenAPI 3.1 badge, and the operations by group.
    expect(page.locator(".information-container .title")).to_contain_text("twitterclone")
    expect(page.locator(".information-container .title")).to_contain_text("OAS 3.1")
    operations = page.locator(".opblock-summary")
    expect(operations.first).to_be_visible()
    paths = operations.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/tweets" in paths
    assert "/api/timeline/home" in paths
    assert len(paths) > 40
    for failure in ("Unable to render this definition", "does not specify a valid version field"):
        expect(page.get_by_text(failure)).to_have_count(0)
    expect(page.locator(".errors-wrapper")).to_have_count(0)

    # An operation opens and shows its responses, problem answers included.
    page.locator(".opblock-summary-path", has_text="/api/timeline/home").first.click()
    expect(page.locator(".opblock.is-open .responses-table")).to_be_visible()

    assert elsewhere == [], f"the docs page loaded from elsewhere: {elsewhere}"
    assert page_errors(page) == [], page_errors(page)  # a CSP violation would be logged here
    screenshot(page, "api-docs")
