"""Fixtures of the attack tests: apps with chosen settings, and forged tokens."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from tests.conftest import FAST_ARGON2, MONOLITH, migrate_all
from twitterclone.gateway.app import create_app
from twitterclone.manifest import Manifest
from twitterclone.settings import Settings

MakeClient = Callable[..., TestClient[Litestar]]


@pytest.fixture
def make_client(tmp_path: Path, manifest: Manifest) -> Iterator[MakeClient]:
    """Start a monolith with settings overridden (e.g. small rate budgets); closed after the test."""
    with ExitStack() as stack:
        count = 0

        def make(**overrides: Any) -> TestClient[Litestar]:
            nonlocal count
            count += 1
            settings = Settings(
                data_dir=str(tmp_path / f"data{count}"),
                manifest=str(MONOLITH),
                **{**FAST_ARGON2, **overrides},
            )
            asyncio.run(migrate_all(manifest, settings))
            return stack.enter_context(TestClient(create_app(settings, manifest)))

        yield make
