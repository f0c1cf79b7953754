"""`twitterclone up`: start every process of a manifest locally and watch over them.

Each process is `twitterclone serve --service <name>` under granian. The launcher shows a
live table (service, instance, address, pid, health, registry), restarts nothing by itself
(that is a process manager's job; here a dead process shows as such), and stops every
process cleanly on Ctrl-C or SIGTERM: SIGTERM first, SIGKILL after a grace period.
"""

from __future__ import annotations

import contextlib
import os
import signal
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.live import Live
from rich.table import Table

from twitterclone.manifest import MODULE_NAMES, Manifest

GATEWAY = "gateway"


@dataclass
class ProcessSpec:
    """One process the manifest asks for."""

    service: str
    replica: int
    host: str
    port: int

    @property
    def name(self) -> str:
        return f"{self.service}-{self.replica}"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass
class Process:
    spec: ProcessSpec
    popen: subprocess.Popen[bytes] | None = None
    health: str = "starting"
    log_path: Path | None = None
    started_at: float = field(default_factory=time.time)


def plan(manifest: Manifest) -> list[ProcessSpec]:
    """The processes of a manifest: each remote module's replicas, then the gateway."""
    specs: list[ProcessSpec] = []
    for name in MODULE_NAMES:
        cfg = manifest.module(name)
        if cfg.placement != "remote":
            continue
        if cfg.port is None:
            raise ValueError(f"modules.{name}.port is required for a remote module")
        for i in range(cfg.replicas):
            specs.append(ProcessSpec(name, i, cfg.host, cfg.port + i))
    specs.append(ProcessSpec(GATEWAY, 0, manifest.gateway.host, manifest.gateway.port))
    return specs


def serve_command(manifest_path: str, spec: ProcessSpec) -> list[str]:
    return [
        sys.executable,
        "-m",
        "twitterclone",
        "serve",
        "--manifest",
        manifest_path,
        "--service",
        spec.service,
        "--host",
        spec.host,
        "--port",
        str(spec.port),
    ]


class Launcher:
    """Starts, watches and stops the processes of one manifest."""

    def __init__(
        self,
        manifest_path: str,
        manifest: Manifest,
        log_dir: Path,
        console: Console,
        env: dict[str, str] | None = None,
    ) -> None:
        self.manifest_path = manifest_path
        self._env = env or {}
        self.manifest = manifest
        self.log_dir = log_dir
        self.console = console
        self.processes = [Process(spec) for spec in plan(manifest)]
        self._client = httpx.Client(timeout=0.5, trust_env=False, **self._tls(env or {}))

    def _tls(self, env: dict[str, str]) -> dict[str, Any]:
        """With mutual TLS on, probes present the gateway's certificate and trust the dev CA."""
        if not self.manifest.security.mtls:
            return {}
        certs = Path(self.manifest.security.certs_dir)
        if not certs.is_absolute():
            data = env.get("TWITTERCLONE_DATA_DIR") or os.environ.get("TWITTERCLONE_DATA_DIR", "data")
            certs = Path(data) / certs
        ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
        ctx.load_cert_chain(str(certs / "gateway.pem"), str(certs / "gateway-key.pem"))
        return {"verify": ctx}

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for proc in self.processes:
            self._spawn(proc)

    def _spawn(self, proc: Process) -> None:
        proc.log_path = self.log_dir / f"{proc.spec.name}.log"
        log_file = open(proc.log_path, "ab")  # noqa: SIM115 - handed to the child
        env = dict(os.environ, PYTHONUNBUFFERED="1", **self._env)
        proc.popen = subprocess.Popen(  # noqa: S603 - our own command line
            serve_command(self.manifest_path, proc.spec),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # Ctrl-C reaches the launcher, which stops children in order
        )
        log_file.close()
        proc.started_at = time.time()
        proc.health = "starting"

    def kill(self, proc: Process) -> None:
        """SIGKILL one process and its granian workers (no graceful stop: nothing deregisters)."""
        if proc.popen is not None:
            _kill_group(proc.popen)

    def restart(self, proc: Process) -> None:
        """Start a process again (after it died or was killed)."""
        if proc.popen is not None and proc.popen.poll() is None:
            raise RuntimeError(f"{proc.spec.name} is still running")
        self._spawn(proc)

    def find(self, service: str, replica: int = 0) -> Process:
        for proc in self.processes:
            if proc.spec.service == service and proc.spec.replica == replica:
                return proc
        raise KeyError(f"{service}-{replica}")

    def poll(self) -> None:
        """Refresh each process's health from its exit status and /readyz."""
        for proc in self.processes:
            if proc.popen is None:
                continue
            # Services speak TLS when mtls is on; the gateway is the public (plain) edge.
            tls = self.manifest.security.mtls and proc.spec.service != GATEWAY
            scheme = "https" if tls else "http"
            code = proc.popen.poll()
            if code is not None:
                proc.health = f"exited ({code})"
                continue
            try:
                r = self._client.get(f"{scheme}://{proc.spec.address}/readyz")
                proc.health = "ready" if r.status_code == 200 else f"not ready ({r.status_code})"
            except httpx.HTTPError:
                proc.health = "starting" if time.time() - proc.started_at < 30 else "unreachable"

    def all_ready(self) -> bool:
        return all(p.health == "ready" for p in self.processes)

    def table(self) -> Table:
        t = Table(title=f"twitterclone up — {self.manifest.name}", expand=False)
        for col in ("service", "instance", "address", "pid", "health", "log"):
            t.add_column(col)
        for p in self.processes:
            colour = "green" if p.health == "ready" else ("yellow" if p.health == "starting" else "red")
            t.add_row(
                p.spec.service,
                str(p.spec.replica),
                p.spec.address,
                str(p.popen.pid if p.popen else "-"),
                f"[{colour}]{p.health}[/{colour}]",
                str(p.log_path) if p.log_path else "",
            )
        return t

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM every process (gateway first, so no new work arrives), SIGKILL after ``grace_s``."""
        for proc in reversed(self.processes):
            if proc.popen is not None and proc.popen.poll() is None:
                proc.popen.send_signal(signal.SIGTERM)
        deadline = time.time() + grace_s
        for proc in self.processes:
            if proc.popen is None:
                continue
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(timeout=max(0.1, deadline - time.time()))
            _kill_group(proc.popen)  # also sweeps a worker that outlived its granian main process
        self._client.close()

    def run(self, *, live: bool) -> int:
        """Start everything and watch until Ctrl-C or SIGTERM; then stop everything."""
        self.start()
        stop_requested = False

        def on_term(_sig: int, _frame: object) -> None:
            nonlocal stop_requested
            stop_requested = True

        signal.signal(signal.SIGTERM, on_term)
        last_states: list[str] = []
        try:
            with Live(self.table(), console=self.console, refresh_per_second=2, transient=False) as view:
                if not live:
                    view.stop()
                while not stop_requested:
                    self.poll()
                    if live:
                        view.update(self.table())
                    else:
                        states = [f"{p.spec.name}={p.health}" for p in self.processes]
                        if states != last_states:
                            self.console.print(" ".join(states))
                            last_states = states
                    time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.console.print("stopping…")
            self.stop()
            self.console.print("all processes stopped")
        return 0


def _kill_group(popen: subprocess.Popen[bytes]) -> None:
    """SIGKILL a process's whole group: granian's workers are its children."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(popen.pid, signal.SIGKILL)  # start_new_session made the pid its group id
    popen.wait()
