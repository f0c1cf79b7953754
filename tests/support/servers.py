"""Private Redis and PostgreSQL servers that a test owns and may kill.

Fault tests must never touch the machine's shared servers (conventions, "Faults"): each starts
its own ``redis-server`` and its own PostgreSQL cluster on free ports in a temporary directory,
kills and restarts them as the fault demands, and removes them at the end.

- ``RedisServer``: ``--save "" --appendonly no``, so a restart comes back empty, as the split
  manifest's Redis ("what can be rebuilt") does.
- ``PostgresCluster``: ``initdb`` + ``pg_ctl`` from ``/usr/lib/postgresql/<newest>/bin``, trust
  authentication on 127.0.0.1 for the ``postgres`` role. PostgreSQL refuses to run as root, so
  when the tests run as root (CI) the server runs as the ``postgres`` system user (``runuser``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from twitterclone.listeners import unused_ports


def _wait_until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not within {timeout_s}s")
        time.sleep(0.05)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class RedisServer:
    """A ``redis-server`` of our own that keeps nothing on disk."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or unused_ports()
        self.dir = Path(tempfile.mkdtemp(prefix="tc-faults-redis-"))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.dir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_until(lambda: _accepts(self.port), 10, "redis-server accepting connections")

    def kill(self) -> None:
        """SIGKILL: everything in memory is gone."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def signal(self, sig: signal.Signals) -> None:
        if self.proc is not None:
            self.proc.send_signal(sig)

    def restart_empty(self) -> None:
        self.kill()
        self.start()

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class PostgresCluster:
    """A PostgreSQL cluster of our own (``initdb`` in a temporary directory)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or unused_ports()
        self.dir = Path(tempfile.mkdtemp(prefix="tc-faults-pg-"))
        self.data = self.dir / "data"
        self.bin = _postgres_bin()
        self._as_user: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses root: run it as the postgres system user
            self._as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.dir, "postgres")
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8"
        )
        conf = self.data / "postgresql.conf"
        with conf.open("a") as f:
            f.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.dir}'\n"
                # fsync off is safe against a killed server (the OS keeps what was written), not
                # against a crashed machine; synchronous_commit stays on: a killed server must
                # keep every commit it acknowledged, or the suite would lose writes itself.
                "fsync = off\nfull_page_writes = off\nmax_connections = 300\n"
            )

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the ``twitterclone`` database."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/twitterclone"

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as_user, *args], check=True, capture_output=True, cwd=self.dir)

    def start(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "log"), "-w", "start")
        _wait_until(lambda: _accepts(self.port), 20, "postgres accepting connections")

    def kill(self) -> None:
        """SIGKILL the postmaster and its backends (a crash; recovery replays the WAL on start)."""
        pid_file = self.data / "postmaster.pid"
        if not pid_file.exists():
            return
        pid = int(pid_file.read_text().split()[0])
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        for victim in [pid, *(int(c) for c in children)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim, signal.SIGKILL)
        _wait_until(lambda: not _alive(pid), 10, "postgres gone")
        _wait_until(lambda: not _accepts(self.port), 10, "postgres port closed")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(
                [*self._as_user, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
                check=False,
                capture_output=True,
            )

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _postgres_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not found:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql")
    return found[-1].parent
