"""What the registry knows about a running process, and what every backend promises."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal, Protocol

import msgspec


class Instance(msgspec.Struct, frozen=True, kw_only=True):
    """One running process that serves a service, reachable at ``scheme://address``."""

    service: str
    instance_id: str
    address: str  # "host:port"
    scheme: Literal["http", "https"] = "http"
    started_at: float = 0.0
    meta: dict[str, str] = {}

    @property
    def base_url(self) -> str:
        """Where to send requests: ``scheme://host:port``."""
        return f"{self.scheme}://{self.address}"


class RegistryStateUnknown(Exception):
    """The registry cannot tell which instances exist: it lost its state (say, its Redis came
    back empty after a restart). "Unknown" is not "none": callers keep the instances they last
    knew until the instances re-register."""


class Registry(Protocol):
    """Where processes announce themselves and callers find them."""

    async def register(self, instance: Instance) -> None:
        """Make ``instance`` resolvable (idempotent; registering again refreshes it)."""
        ...

    async def heartbeat(self, instance: Instance) -> None:
        """Tell the registry ``instance`` is still alive (re-registers it if it had expired)."""
        ...

    async def deregister(self, instance: Instance) -> None:
        """Remove ``instance`` now (graceful stop); unknown instances are ignored."""
        ...

    async def resolve(self, service: str) -> list[Instance]:
        """The healthy instances of ``service``, ordered by instance id.

        Raises ``RegistryStateUnknown`` when the backend can tell it has lost its state rather
        than that the service has no instance (an empty list means "none").
        """
        ...

    def watch(self, service: str) -> AsyncIterator[list[Instance]]:
        """Yield the current instances of ``service``, then the new list after every change."""
        ...


def check_service_name(service: str) -> str:
    """Service names become key segments: keep them plain."""
    if not service or ":" in service or any(c.isspace() for c in service):
        raise ValueError(f"invalid service name {service!r}: must be non-empty, without ':' or spaces")
    return service


def split_address(address: str) -> tuple[Literal["http", "https"], str]:
    """``"http://h:p"``, ``"https://h:p"`` or ``"h:p"`` → (scheme, ``"h:p"``)."""
    scheme: Literal["http", "https"] = "http"
    rest = address.strip()
    if rest.startswith("https://"):
        scheme, rest = "https", rest[len("https://") :]
    elif rest.startswith("http://"):
        rest = rest[len("http://") :]
    rest = rest.rstrip("/")
    host, sep, port = rest.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"invalid address {address!r}: expected host:port")
    return scheme, rest
