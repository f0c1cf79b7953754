"""``unused_ports``: ports for local stacks the bench and the tests start, from outside the range
the kernel hands out to outgoing connections, so none can take them before the server binds."""

from __future__ import annotations

import random
import socket

import pytest

from twitterclone import listeners
from twitterclone.listeners import unused_ports


def test_a_block_is_below_the_ephemeral_range_and_every_port_of_it_binds() -> None:
    floor = listeners._ephemeral_floor()
    for _ in range(20):
        base = unused_ports(8)
        assert base >= 10_000
        assert base + 8 <= floor
        for port in range(base, base + 8):
            with socket.socket() as s:
                s.bind(("127.0.0.1", port))


def test_a_block_with_a_held_port_is_passed_over(monkeypatch: pytest.MonkeyPatch) -> None:
    held = socket.socket()
    held.bind(("127.0.0.1", unused_ports()))
    taken = held.getsockname()[1]
    free = unused_ports(4)
    candidates = iter([taken - 2, free])  # the first block holds the taken port
    monkeypatch.setattr(random, "randint", lambda lo, hi: next(candidates))
    try:
        assert unused_ports(4) == free
    finally:
        held.close()


def test_without_linux_s_range_the_iana_dynamic_range_is_kept_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(listeners, "Path", lambda _: _Unreadable())
    assert listeners._ephemeral_floor() == 49152


class _Unreadable:
    def read_text(self) -> str:
        raise OSError("no /proc here")
