"""Browser tests: Playwright driving a real headless Chromium against real server processes.

The browser is Debian's ``chromium`` (``make test`` installs it: scripts/ensure-chromium.sh),
launched through its executable path; Playwright never downloads one. Its absence is a failure
that says what to install, not a skip.

Fixtures:
- ``chromium``: one browser per test module (closed before other tests run);
- ``new_page(width=…, headers=…)``: a fresh browser context and page (closed after the test);
  ``page`` is one at desktop width. ``page_errors(page)`` lists what the page logged as errors;
- ``monolith``: the monolith manifest served by a real granian process on free ports
  (tests/e2e/harness.py), shared by the tests of one module;
- ``screenshot(page, name)``: full-page PNGs at desktop (1280 px) and phone (390 px) widths under
  ``test-output/screenshots/`` (git-ignored; ``TWITTERCLONE_TEST_OUTPUT`` moves it).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
import tomli_w
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, sync_playwright

from tests.e2e.harness import ROOT, Deployment, deployment

T = TypeVar("T")

#: Never let Playwright fetch a browser build of its own.
os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")

CHROMIUM = os.environ.get("TWITTERCLONE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
OUTPUT = Path(os.environ.get("TWITTERCLONE_TEST_OUTPUT", ROOT / "test-output"))
SCREENSHOTS = OUTPUT / "screenshots"


# Module scope, not session: Playwright's sync API keeps an event loop running on this thread
# while it is open, and the rest of the suite (asyncio.run, pytest-asyncio) must not meet it.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def chromium(playwright: Playwright) -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"the browser tests need Chromium at {CHROMIUM}: run `make browser` (as root it runs "
            "`apt-get install -y chromium`), or set TWITTERCLONE_CHROMIUM to a Chromium binary",
            pytrace=False,
        )
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


_ERRORS: dict[int, list[str]] = {}


def page_errors(page: Page) -> list[str]:
    """Console errors and uncaught exceptions the page has shown so far."""
    return _ERRORS.setdefault(id(page), [])


NewPage = Callable[..., Page]


@pytest.fixture
def new_page(chromium: Browser) -> Iterator[NewPage]:
    contexts = []

    def make(width: int = DESKTOP["width"], headers: dict[str, str] | None = None) -> Page:
        context = chromium.new_context(
            viewport={"width": width, "height": DESKTOP["height"] if width >= 800 else PHONE["height"]},
            extra_http_headers=headers,
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        errors = page_errors(page)

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                errors.append(message.text)

        page.on("console", on_console)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page: NewPage) -> Page:
    return new_page()


Screenshot = Callable[[Page, str], list[Path]]


@pytest.fixture
def screenshot() -> Screenshot:
    """Save the page at desktop and phone widths as <name>-desktop.png and <name>-phone.png."""

    def take(page: Page, name: str) -> list[Path]:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        original = page.viewport_size
        saved = []
        for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
            page.set_viewport_size(size)
            path = SCREENSHOTS / f"{name}-{label}.png"
            page.screenshot(path=str(path), full_page=True)
            saved.append(path)
        if original is not None:
            page.set_viewport_size(original)
        return saved

    return take


def _off_this_thread(call: Callable[[], T]) -> T:
    """Run ``call`` in a worker thread: Playwright's sync API keeps an event loop running on this
    one, and the harness's ``asyncio.run`` (migrations, databases) refuses to nest in it."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


@contextmanager
def served(name: str, tmp_path: Path, **options: Any) -> Iterator[Deployment]:
    """``tests.e2e.harness.deployment`` for browser tests: every process of deployments/<name>.toml."""
    started = deployment(name, tmp_path, **options)
    d = _off_this_thread(started.__enter__)
    try:
        yield d
    finally:
        _off_this_thread(lambda: started.__exit__(None, None, None))


@pytest.fixture(scope="module")
def monolith(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    with served("monolith", tmp_path_factory.mktemp("monolith")) as d:
        yield d


def grant_admin(d: Deployment, handle: str) -> None:
    """Make ``handle`` an administrator of a running deployment, with `twitterclone admin grant`.

    The command needs the users module in its own process, so it runs on a copy of the
    deployment's manifest with every module local: same databases, same data directory.
    """
    raw = tomllib.loads(Path(d.launcher.manifest_path).read_text())
    for section in raw.get("modules", {}).values():
        section["placement"] = "local"
        section.pop("port", None)
        section.pop("replicas", None)
        section.pop("autoscale", None)
    local = d.data_dir.parent / f"{d.name}-admin.toml"
    local.write_text(tomli_w.dumps(raw))
    env = dict(os.environ, TWITTERCLONE_DATA_DIR=str(d.data_dir))
    done = subprocess.run(
        [sys.executable, "-m", "twitterclone", "admin", "grant", handle, "--manifest", str(local)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
