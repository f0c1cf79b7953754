"""Real deployments for end-to-end tests: every process of a manifest, on this machine.

``deployment(name)`` takes one of the manifests in ``deployments/``, rewrites only what a test
must own (free ports, its own PostgreSQL database, its own Redis key prefix, a temporary data
directory), migrates, starts every process with the launcher, waits until all are ready,
and tears everything down afterwards, deleting exactly what it made.
"""

from __future__ import annotations

import asyncio
import time
import tomllib
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import tomli_w
from rich.console import Console

from tests.support.databases import postgres_database, redis_url
from twitterclone.devcerts import make_dev_certs
from twitterclone.launcher import Launcher
from twitterclone.listeners import unused_ports
from twitterclone.manifest import MODULE_NAMES, Manifest, parse_manifest
from twitterclone.migrate import migrate_deployment
from twitterclone.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CHEAP_ARGON2 = {
    "TWITTERCLONE_ARGON2_TIME_COST": "1",
    "TWITTERCLONE_ARGON2_MEMORY_KIB": "8192",
    "TWITTERCLONE_ARGON2_PARALLELISM": "1",
}


@dataclass
class Deployment:
    name: str
    manifest: Manifest
    launcher: Launcher
    base_url: str
    data_dir: Path

    def wait_ready(self, timeout_s: float = 90.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.launcher.poll()
            if self.launcher.all_ready():
                return
            dead = [p for p in self.launcher.processes if p.health.startswith("exited")]
            if dead:
                raise AssertionError(f"{dead[0].spec.name} died: {self.log_tail(dead[0].spec.name)}")
            time.sleep(0.3)
        states = {p.spec.name: p.health for p in self.launcher.processes}
        raise AssertionError(f"not ready in {timeout_s}s: {states}")

    def log_tail(self, process_name: str, lines: int = 30) -> str:
        path = self.data_dir / "logs" / f"{process_name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def restart_all(self) -> None:
        self.launcher.stop()
        self.launcher = Launcher(
            self.launcher.manifest_path,
            self.manifest,
            self.data_dir / "logs",
            Console(quiet=True),
            _env(self),
        )
        self.launcher.start()
        self.wait_ready()


def report(request: pytest.FixtureRequest, line: str) -> None:
    """Show a figure in every run, outside pytest's output capture."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(line)


def _env(d: Deployment) -> dict[str, str]:
    return {"TWITTERCLONE_DATA_DIR": str(d.data_dir), **CHEAP_ARGON2}


@contextmanager
def deployment(
    name: str,
    tmp_path: Path,
    *,
    mtls: bool = False,
    redis: str | None = None,
    database_url: str | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[Deployment]:
    """Start every process of ``deployments/<name>.toml``, isolated for this test.

    With ``mtls``, services speak TLS and demand client certificates from a fresh dev CA.
    ``redis`` and ``database_url`` point the deployment at servers the test owns (the fault
    suite kills them); by default it gets its own key prefix and database on the shared ones.
    ``env`` adds settings (``TWITTERCLONE_*``) for every process.
    """
    raw = tomllib.loads((ROOT / "deployments" / f"{name}.toml").read_text())
    if mtls:
        raw.setdefault("security", {})["mtls"] = True
    with ExitStack() as stack:
        base = unused_ports(40)
        raw.setdefault("gateway", {})["port"] = base
        for i, module in enumerate(MODULE_NAMES):
            section = raw.setdefault("modules", {}).setdefault(module, {})
            if section.get("placement") == "remote":
                section["port"] = base + 5 * (i + 1)
        prefix = f"tc:e2e:{uuid.uuid4().hex[:10]}:"
        if raw.get("database", {}).get("kind") == "postgresql":
            raw["database"]["url"] = database_url or stack.enter_context(_sync_postgres())
        if "redis" in raw:
            raw["redis"] = {"url": redis or redis_url(), "prefix": prefix}
            if redis is None:
                stack.callback(_delete_keys, prefix)
        manifest_path = tmp_path / f"{name}.toml"
        manifest_path.write_text(tomli_w.dumps(raw))
        manifest = parse_manifest(manifest_path.read_text(), source=str(manifest_path))
        data_dir = tmp_path / "data"
        settings = Settings(data_dir=str(data_dir), manifest=str(manifest_path))
        asyncio.run(migrate_deployment(manifest, settings))
        if mtls:
            make_dev_certs(data_dir / manifest.security.certs_dir, days=1)
        process_env = {"TWITTERCLONE_DATA_DIR": str(data_dir), **CHEAP_ARGON2, **(env or {})}
        launcher = Launcher(str(manifest_path), manifest, data_dir / "logs", Console(quiet=True), process_env)
        d = Deployment(name, manifest, launcher, f"http://127.0.0.1:{base}", data_dir)
        launcher.start()
        stack.callback(lambda: d.launcher.stop())
        d.wait_ready()
        yield d


@contextmanager
def _sync_postgres() -> Iterator[str]:
    loop = asyncio.new_event_loop()
    cm = postgres_database()
    try:
        url = loop.run_until_complete(cm.__aenter__())
        yield url
    finally:
        loop.run_until_complete(cm.__aexit__(None, None, None))
        loop.close()


def _delete_keys(prefix: str) -> None:
    client = redis.Redis.from_url(redis_url())
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for i in range(0, len(keys), 500):
            client.delete(*keys[i : i + 500])
    finally:
        client.close()
