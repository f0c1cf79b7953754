"""``--start-monolith``: migrate and serve the monolith on a fresh data directory for one run."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Coroutine
from dataclasses import asdict
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from twitterclone.listeners import unused_ports

T = TypeVar("T")

#: Cheap argon2id parameters for the benchmark's server: seeding registers and logs in every user
#: through the API, and at the production cost that alone would take minutes. Reported in the JSON.
CHEAP_ARGON2 = {
    "TWITTERCLONE_ARGON2_TIME_COST": "1",
    "TWITTERCLONE_ARGON2_MEMORY_KIB": "8192",
    "TWITTERCLONE_ARGON2_PARALLELISM": "1",
}

#: All the load comes from one address (127.0.0.1) and a few thousand accounts posting and following far
#: faster than a person: the gateway's rate limits would refuse most of it. They stay *on* (their cost is
#: part of every request) with budgets no run can reach.
_HUGE = "1000000000/1"
RAISED_RATE_LIMITS = {
    f"TWITTERCLONE_RATE_{name}": _HUGE
    for name in (
        "ADDRESS",
        "USER",
        "LOGIN_ADDRESS",
        "LOGIN_ACCOUNT",
        "REGISTER_ADDRESS",
        "TOKEN_ADDRESS",
        "POST_USER",
        "POST_HOURLY",
        "FOLLOW_USER",
        "FOLLOW_HOURLY",
    )
}


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def stopping_on_sigterm(run: Callable[[], T]) -> T:
    """Run ``run`` with SIGTERM raising SystemExit, so that a server the run started is stopped too.

    A background shell ignores SIGINT, and a plain SIGTERM would kill the tool without unwinding
    its ``with Monolith(...)``. Outside the main thread signals cannot be set: ``run`` runs as is.
    """
    if threading.current_thread() is not threading.main_thread():
        return run()
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        return run()
    finally:
        signal.signal(signal.SIGTERM, previous)


def wait_ready(base_url: str, timeout_s: float = 60.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Poll ``/readyz`` until it answers 200; raise with the reason when it does not in time."""
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited with status {proc.returncode} before it was ready")
        try:
            with urllib.request.urlopen(base_url + "/readyz", timeout=2) as resp:  # noqa: S310 - our URL
                if resp.status == 200:
                    return
                last = f"status {resp.status}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.2)
    raise RuntimeError(f"{base_url}/readyz not ready after {timeout_s:.0f}s: {last}")


class Monolith:
    """A ``twitterclone run`` subprocess on a temporary data directory, stopped (and removed) on exit."""

    def __init__(
        self,
        manifest: str,
        port: int | None = None,
        workers: int | None = None,
        cheap_argon2: bool = True,
        *,
        backlog: int | None = None,
        backpressure: int | None = None,
        keep_alive_s: float | None = None,
    ) -> None:
        self.manifest = manifest
        self.port = port or unused_ports()
        self.workers = workers
        self.cheap_argon2 = cheap_argon2
        # granian's connection settings (`twitterclone run --backlog/--backpressure/--keep-alive-timeout`);
        # None leaves granian's defaults
        self.backlog = backlog
        self.backpressure = backpressure
        self.keep_alive_s = keep_alive_s
        self.data_dir = Path(tempfile.mkdtemp(prefix="twitterclone-bench-"))
        self.log_path = self.data_dir / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.env = {
            **os.environ,
            "TWITTERCLONE_DATA_DIR": str(self.data_dir / "data"),
            "TWITTERCLONE_MANIFEST": manifest,
            "TWITTERCLONE_LOG_LEVEL": "WARNING",
            # tokens outlive the whole run, so none expires in the middle of a phase
            "TWITTERCLONE_ACCESS_TOKEN_TTL_S": "7200",
            **RAISED_RATE_LIMITS,
            **(CHEAP_ARGON2 if cheap_argon2 else {}),
        }

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def describe(self) -> dict[str, object]:
        return {
            "started_by_bench": True,
            "manifest": self.manifest,
            "workers": self.workers or "manifest default",
            "argon2": {k.removeprefix("TWITTERCLONE_").lower(): v for k, v in CHEAP_ARGON2.items()}
            if self.cheap_argon2
            else "server defaults",
            "access_token_ttl_s": 7200,
            "rate_limits": f"on, every budget raised to {_HUGE} (one address generates all the load)",
            **({"backlog": self.backlog} if self.backlog is not None else {}),
            **({"backpressure_per_worker": self.backpressure} if self.backpressure is not None else {}),
            **({"keep_alive_timeout_s": self.keep_alive_s} if self.keep_alive_s is not None else {}),
        }

    def __enter__(self) -> Monolith:
        cli = [sys.executable, "-m", "twitterclone"]
        with self.log_path.open("ab") as log:
            subprocess.run(  # noqa: S603 - our own CLI
                [*cli, "migrate", "--manifest", self.manifest],
                env=self.env,
                stdout=log,
                stderr=log,
                check=True,
            )
            args = [*cli, "run", "--manifest", self.manifest, "--host", "127.0.0.1", "--port", str(self.port)]
            if self.workers:
                args += ["--workers", str(self.workers)]
            if self.backlog is not None:
                args += ["--backlog", str(self.backlog)]
            if self.backpressure is not None:
                args += ["--backpressure", str(self.backpressure)]
            if self.keep_alive_s is not None:
                args += ["--keep-alive-timeout", f"{self.keep_alive_s:g}"]
            self.proc = subprocess.Popen(args, env=self.env, stdout=log, stderr=log)  # noqa: S603
        try:
            wait_ready(self.url, proc=self.proc)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # granian shuts its workers down gracefully
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def measure_on_monolith(
    manifest: str, workers: int, measure: Callable[[Monolith], Coroutine[object, object, T]]
) -> T:
    """Start a monolith of ``manifest``, run ``measure`` against it and stop it (SIGTERM stops it
    too); if ``measure`` fails, the server's log tail is printed first."""

    def run() -> T:
        with Monolith(str(Path(manifest).resolve()), workers=workers) as server:
            try:
                return asyncio.run(measure(server))
            except BaseException:
                print(server.log_tail())
                raise

    return stopping_on_sigterm(run)


def result_path(out: Path, kind: str, label: str, tail: str = ".json") -> Path:
    """``<out>/<time>-<kind>[-<label>]<tail>``: where a run's result file goes."""
    return out / f"{time.strftime('%Y%m%d-%H%M%S')}-{kind}{f'-{label}' if label else ''}{tail}"


def write_json(out: Path, kind: str, label: str, result: object) -> Path:
    """A dataclass result as ``result_path(out, kind, label)``; its path."""
    path = result_path(out, kind, label)
    path.write_text(json.dumps(asdict(result), indent=2, ensure_ascii=False) + "\n")  # type: ignore[call-overload]
    return path
