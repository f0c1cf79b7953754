"""A split deployment started by the bench itself: every process of a manifest, on this machine.

``SplitStack`` takes a manifest (``deployments/split.toml`` by default), rewrites only what one run
must own — free ports, its own PostgreSQL database ``tc_bench_<hex>``, its own Redis key prefix, a
temporary data directory, and the replica counts asked for — migrates it, makes the service key
once (as ``twitterclone up`` does), and starts every process with the launcher ``twitterclone up``
uses. On exit it stops them, drops the database and deletes exactly the keys under its prefix.
The server settings are those of ``--start-monolith`` (cheap argon2, 2 h tokens, rate-limit budgets
out of reach), so a split figure and a monolith figure measure the same server work.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import tomllib
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import sqlalchemy as sa
import tomli_w
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from twitterclone.listeners import unused_ports
from twitterclone_bench.load import _proc_cpu, _process_tree
from twitterclone_bench.server import CHEAP_ARGON2, RAISED_RATE_LIMITS

ROOT = Path(__file__).resolve().parents[2]
SPLIT_MANIFEST = ROOT / "deployments" / "split.toml"
#: Databases this tool creates (and only these are ever dropped by it).
DB_PREFIX = "tc_bench_"


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _create_database(admin_url: str) -> str:
    admin = make_url(admin_url)
    name = f"{DB_PREFIX}{uuid.uuid4().hex[:12]}"
    engine = create_async_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except (OSError, sa.exc.SQLAlchemyError) as exc:
        raise RuntimeError(f"cannot create a database on {admin.render_as_string()}: {exc}") from exc
    finally:
        await engine.dispose()
    return admin.set(database=name, drivername="postgresql+asyncpg").render_as_string(hide_password=False)


async def _drop_database(admin_url: str, url: str) -> None:
    name = make_url(url).database
    if not name or not name.startswith(DB_PREFIX):
        return
    engine = create_async_engine(make_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await engine.dispose()


async def _delete_keys(redis_url: str, prefix: str) -> None:
    import redis.asyncio as aredis

    client = aredis.Redis.from_url(redis_url)
    try:
        batch: list[bytes] = []
        async for key in client.scan_iter(match=f"{prefix}*", count=1000):
            batch.append(key)
            if len(batch) >= 500:
                await client.delete(*batch)
                batch = []
        if batch:
            await client.delete(*batch)
    finally:
        await client.aclose()


@dataclass
class SplitStack:
    """Every process of a split manifest, isolated for one bench run (a context manager)."""

    manifest: str = str(SPLIT_MANIFEST)
    #: replicas per module, overriding the manifest's (e.g. {"timeline": 2})
    replicas: dict[str, int] = field(default_factory=dict)
    #: modules kept remote; every other module moves into the gateway (None: as the manifest says)
    remote_only: tuple[str, ...] | None = None
    postgres_admin_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    redis_url: str = "redis://127.0.0.1:6379/0"
    gateway_workers: int | None = None
    data_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="twitterclone-bench-split-")))
    database_url: str | None = None
    prefix: str = field(default_factory=lambda: f"tc:bench:{uuid.uuid4().hex[:10]}:")
    manifest_path: Path | None = None
    launcher: Any = None
    base_url: str = ""

    def _raw(self) -> dict[str, Any]:
        raw = tomllib.loads(Path(self.manifest).read_text())
        modules: dict[str, Any] = raw.setdefault("modules", {})
        from twitterclone.manifest import MODULE_NAMES

        base = unused_ports(60)
        raw.setdefault("gateway", {})["port"] = base
        if self.gateway_workers:
            raw["gateway"]["workers"] = self.gateway_workers
        for i, module in enumerate(MODULE_NAMES):
            section = modules.setdefault(module, {})
            if self.remote_only is not None and module not in self.remote_only:
                section["placement"] = "local"
                for key in ("replicas", "port", "autoscale"):
                    section.pop(key, None)
            if section.get("placement") == "remote":
                section["port"] = base + 8 * (i + 1)
                if module in self.replicas:
                    section["replicas"] = self.replicas[module]
                    # autoscale bounds are for a platform that scales (`up` runs the replicas given)
                    section.pop("autoscale", None)
        unknown = set(self.replicas) - set(MODULE_NAMES)
        if unknown:
            raise ValueError(f"unknown module(s): {', '.join(sorted(unknown))}")
        if raw.get("database", {}).get("kind") == "postgresql":
            raw["database"]["url"] = self.database_url
        raw["redis"] = {"url": self.redis_url, "prefix": self.prefix}
        return raw

    def env(self) -> dict[str, str]:
        """What every process of the stack gets (the settings of ``--start-monolith``)."""
        return {
            "TWITTERCLONE_DATA_DIR": str(self.data_dir / "data"),
            "TWITTERCLONE_LOG_LEVEL": "WARNING",
            "TWITTERCLONE_ACCESS_TOKEN_TTL_S": "7200",
            **RAISED_RATE_LIMITS,
            **CHEAP_ARGON2,
        }

    def settings(self) -> Any:
        from twitterclone.settings import Settings

        return Settings(
            data_dir=str(self.data_dir / "data"), manifest=str(self.manifest_path), log_level="WARNING"
        )

    def parsed(self) -> Any:
        from twitterclone.manifest import parse_manifest

        assert self.manifest_path is not None
        return parse_manifest(self.manifest_path.read_text(), source=str(self.manifest_path))

    def __enter__(self) -> SplitStack:
        from rich.console import Console

        from twitterclone.composition import service_keys_dir
        from twitterclone.identity import provision
        from twitterclone.launcher import Launcher
        from twitterclone.migrate import migrate_deployment

        try:
            self.database_url = _run(_create_database(self.postgres_admin_url))
            self.manifest_path = self.data_dir / "split.toml"
            self.manifest_path.write_text(tomli_w.dumps(self._raw()))
            manifest = self.parsed()
            settings = self.settings()
            _run(migrate_deployment(manifest, settings))
            provision(service_keys_dir(settings))
            env = self.env()
            self.launcher = Launcher(
                str(self.manifest_path), manifest, self.data_dir / "logs", Console(quiet=True), env
            )
            self.base_url = f"http://127.0.0.1:{manifest.gateway.port}"
            self.launcher.start()
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def wait_ready(self, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.launcher.poll()
            if self.launcher.all_ready():
                return
            dead = [p for p in self.launcher.processes if p.health.startswith("exited")]
            if dead:
                raise RuntimeError(f"{dead[0].spec.name} died: {self.log_tail(dead[0].spec.name)}")
            time.sleep(0.3)
        states = {p.spec.name: p.health for p in self.launcher.processes}
        raise RuntimeError(f"the split stack was not ready in {timeout_s:.0f}s: {states}")

    def log_tail(self, process_name: str, lines: int = 30) -> str:
        path = self.data_dir / "logs" / f"{process_name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def pids(self, service: str | None = None) -> dict[str, int]:
        """Process name (``timeline-1``) -> pid, of one service or of every running process."""
        return {
            p.spec.name: p.popen.pid
            for p in self.launcher.processes
            if p.popen is not None
            and p.popen.poll() is None
            and (service is None or p.spec.service == service)
        }

    def running(self) -> dict[str, int]:
        """Running replicas per service."""
        out: dict[str, int] = {}
        for name in self.pids():
            service = name.rsplit("-", 1)[0]
            out[service] = out.get(service, 0) + 1
        return out

    def scale_to(self, service: str, replicas: int, timeout_s: float = 120.0, settle_s: float = 3.0) -> None:
        """Run exactly the first ``replicas`` replicas of ``service`` (of those the manifest copy has).

        An extra replica is stopped gracefully (SIGTERM: it deregisters and leaves its stream
        entries to the others) and started again with the launcher when asked for; then the
        callers get ``settle_s`` to see the change (their registry view refreshes every second).
        """
        procs = [p for p in self.launcher.processes if p.spec.service == service]
        if not 1 <= replicas <= len(procs):
            raise ValueError(f"{service} has {len(procs)} replica(s) in this stack; asked for {replicas}")
        for proc in procs[replicas:]:
            if proc.popen is not None and proc.popen.poll() is None:
                proc.popen.send_signal(signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.popen.wait(timeout=20)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.popen.pid, signal.SIGKILL)  # its granian workers too
                proc.popen.wait()
        for proc in procs[:replicas]:
            if proc.popen is None or proc.popen.poll() is not None:
                self.launcher.restart(proc)
        deadline = time.monotonic() + timeout_s
        while True:
            self.launcher.poll()
            if all(p.health == "ready" for p in procs[:replicas]):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{service} was not ready in {timeout_s:.0f}s: {self.log_tail(procs[0].spec.name)}"
                )
            time.sleep(0.3)
        time.sleep(settle_s)

    def cpu_s(self) -> dict[str, float]:
        """CPU seconds so far of each process (with its granian workers)."""
        return {name: sum(_proc_cpu(p) for p in _process_tree(pid)) for name, pid in self.pids().items()}

    def service_urls(self, service: str) -> list[str]:
        return [f"http://{p.spec.address}" for p in self.launcher.processes if p.spec.service == service]

    def stop(self) -> None:
        if self.launcher is not None:
            self.launcher.stop()
            self.launcher = None
        if self.database_url is not None:
            try:
                _run(_drop_database(self.postgres_admin_url, self.database_url))
            finally:
                self.database_url = None
        with contextlib.suppress(OSError):
            _run(_delete_keys(self.redis_url, self.prefix))
        shutil.rmtree(self.data_dir, ignore_errors=True)


def describe(stack: SplitStack) -> dict[str, Any]:
    """What the JSON says about the stack."""
    manifest = stack.parsed()
    return {
        "started_by_bench": True,
        "manifest": stack.manifest,
        "processes": sorted(stack.pids()),
        "redis_prefix": stack.prefix,
        "replicas": {m: stack.running().get(m, 0) for m in manifest.remote_modules},
        "argon2": {k.removeprefix("TWITTERCLONE_").lower(): v for k, v in CHEAP_ARGON2.items()},
        "access_token_ttl_s": 7200,
        "rate_limits": "on, every budget out of reach (one address generates all the load)",
        "pid": os.getpid(),
    }
