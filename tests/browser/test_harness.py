"""The browser harness itself: a real Chromium reaches a served monolith; screenshots at both widths."""

from __future__ import annotations

import struct

from playwright.sync_api import Page

from tests.browser.conftest import Screenshot, page_errors
from tests.e2e.harness import Deployment


def _png_width(data: bytes) -> int:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int(struct.unpack(">I", data[16:20])[0])


def test_chromium_reaches_the_served_monolith_and_saves_both_widths(
    monolith: Deployment, page: Page, screenshot: Screenshot
) -> None:
    response = page.goto(f"{monolith.base_url}/livez")
    assert response is not None
    assert response.status == 200
    assert "ok" in page.content().lower()
    desktop, phone = screenshot(page, "harness-livez")
    assert _png_width(desktop.read_bytes()) == 1280
    assert _png_width(phone.read_bytes()) == 390
    assert page_errors(page) == []
