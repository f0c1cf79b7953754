"""Discovery through DNS: the platform's (Kubernetes') headless Services are the registry.

A headless Service answers its name with one A/AAAA record per *ready* pod, so the platform's
readiness decides who gets traffic. Like gRPC's DNS resolver, callers look the name up again
every ``refresh_s`` seconds, keep the last answer when the server fails to answer, and take an
empty answer (NXDOMAIN, no records) as "no instance ready". Processes do not register: the
platform adds a pod to the answer when it is ready and removes it when it stops.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Literal

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.resolver

from twitterclone.registry.base import Instance, check_service_name

#: What a lookup answer means "nobody is there" rather than "ask again later".
_EMPTY = (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer)


class DnsRegistry:
    """``{service: (dns name, port)}``: each service's instances are the addresses its name resolves to.

    ``nameservers`` ("host:port") replaces the system's resolver (resolv.conf), e.g. in tests.
    """

    def __init__(
        self,
        names: Mapping[str, tuple[str, int]],
        *,
        refresh_s: float = 2.0,
        nameservers: Sequence[str] = (),
        scheme: Literal["http", "https"] = "http",
        timeout_s: float = 2.0,
    ) -> None:
        for service in names:
            check_service_name(service)
        self._names = dict(names)
        self._refresh_s = refresh_s
        self._scheme: Literal["http", "https"] = scheme
        self._resolver = dns.asyncresolver.Resolver(configure=not nameservers)
        if nameservers:
            self._resolver.nameservers = [_nameserver(ns) for ns in nameservers]
        self._resolver.lifetime = timeout_s
        self._cache: dict[str, tuple[float, list[Instance]]] = {}

    async def register(self, instance: Instance) -> None:
        """Does nothing: the platform publishes a pod once its readiness probe passes."""

    async def heartbeat(self, instance: Instance) -> None:
        """Does nothing: the platform's probes are the heartbeat."""

    async def deregister(self, instance: Instance) -> None:
        """Does nothing: the platform removes a stopping pod from its Service's answer."""

    async def resolve(self, service: str) -> list[Instance]:
        """The instances ``service``'s name resolves to (looked up at most every ``refresh_s``).

        Raises when the DNS server cannot answer, so a caller keeps the instances it knew.
        """
        cached = self._cache.get(service)
        now = time.monotonic()
        if cached is not None and now - cached[0] < self._refresh_s:
            return list(cached[1])
        instances = await self._lookup(service)
        self._cache[service] = (now, instances)
        return list(instances)

    async def watch(self, service: str) -> AsyncIterator[list[Instance]]:
        """Yield the instances now, then again whenever a later lookup answers differently."""
        last = await self.resolve(service)
        yield last
        while True:
            await asyncio.sleep(self._refresh_s)
            try:
                now = await self.resolve(service)
            except dns.exception.DNSException:
                continue  # keep what we had; ask again next round
            if now != last:
                last = now
                yield now

    async def _lookup(self, service: str) -> list[Instance]:
        if service not in self._names:
            return []
        name, port = self._names[service]
        addresses: set[str] = set()
        for rdtype in ("A", "AAAA"):
            try:
                answer = await self._resolver.resolve(name, rdtype, search=True)
            except _EMPTY:
                continue
            addresses.update(record.address for record in answer)
        found = [
            Instance(
                service=service,
                instance_id=address,
                address=f"[{address}]:{port}" if ":" in address else f"{address}:{port}",
                scheme=self._scheme,
            )
            for address in addresses
        ]
        return sorted(found, key=lambda i: i.instance_id)


def _nameserver(text: str) -> dns.nameserver.Do53Nameserver:
    host, _, port = text.strip().rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit():
        raise ValueError(f"invalid DNS server {text!r}: expected host:port")
    ipaddress.ip_address(host)  # dnspython wants an address here, not a name
    return dns.nameserver.Do53Nameserver(host, int(port))
