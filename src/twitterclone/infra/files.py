"""Private data on disk: folders 0700, files 0600, whatever the process umask.

The data directory holds password hashes, signing keys, the service identity key and every
user's uploads, so nothing in it is for other local users. Each writer asks for the private
mode when it creates a file or folder (a umask can only take bits away, never add them), and
a folder or file an older version left readable is tightened when the process next uses it.
SQLite gives its -wal, -shm and -journal files the mode of the database file, so creating
the database file itself as 0600 covers them. No process umask is changed: these helpers
decide, so a library (or a test) that never runs the CLI gets the same modes.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600

log = logging.getLogger("twitterclone.files")


def private_dir(path: Path) -> Path:
    """Make ``path`` a folder only its owner can enter (created if missing, tightened if not)."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    _tighten(path, PRIVATE_DIR)
    return path


def private_file(path: Path) -> Path:
    """Make sure ``path`` exists as a file only its owner can read and write (empty if new)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    except FileExistsError:
        _tighten(path, PRIVATE_FILE)
    return path


def open_private(path: Path, flags: int) -> int:
    """``os.open`` that creates ``path`` as 0600 and tightens an existing file; returns the fd."""
    fd = os.open(path, flags | os.O_CREAT, PRIVATE_FILE)
    if stat.S_IMODE(os.fstat(fd).st_mode) & ~PRIVATE_FILE:
        os.fchmod(fd, PRIVATE_FILE)
    return fd


def _tighten(path: Path, mode: int) -> None:
    """Take group and other bits away from what we own; leave others' files alone, with a word."""
    info = path.stat()
    if not stat.S_IMODE(info.st_mode) & ~mode:
        return
    if info.st_uid != os.getuid():
        log.warning("data path is readable by others and not ours to change", extra={"path": str(path)})
        return
    path.chmod(stat.S_IMODE(info.st_mode) & mode)
