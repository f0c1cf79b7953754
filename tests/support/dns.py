"""A real DNS server for discovery tests (dnslib, on 127.0.0.1 at a free port).

It plays a Kubernetes headless Service: one A record per ready instance. Tests edit its records
while it runs (an instance disappears, a new one appears) and callers see the change by asking.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from dnslib import QTYPE, RCODE, RR, A, DNSRecord
from dnslib.server import BaseResolver, DNSHandler, DNSServer


class Zone(BaseResolver):  # type: ignore[misc]
    """Answers A queries from a dict that the test edits while the server runs."""

    def __init__(self) -> None:
        self.records: dict[str, list[str]] = {}
        self.port = 0
        self._lock = threading.Lock()

    @property
    def nameserver(self) -> str:
        """``host:port`` of the running server."""
        return f"127.0.0.1:{self.port}"

    def set(self, name: str, addresses: list[str]) -> None:
        """Make ``name`` answer ``addresses`` (an empty list: the name exists, no instance is ready)."""
        with self._lock:
            self.records[name.rstrip(".") + "."] = list(addresses)

    def resolve(self, request: DNSRecord, handler: DNSHandler) -> DNSRecord:
        reply = request.reply()
        name = str(request.q.qname)
        with self._lock:
            addresses = self.records.get(name)
        if addresses is None:
            reply.header.rcode = RCODE.NXDOMAIN
        elif request.q.qtype == QTYPE.A:
            for address in addresses:
                reply.add_answer(RR(name, QTYPE.A, rdata=A(address), ttl=1))
        return reply


@contextmanager
def dns_zone() -> Iterator[Zone]:
    """A running DNS server for the block; its records are the returned Zone's."""
    zone = Zone()
    server = DNSServer(zone, port=0, address="127.0.0.1")
    server.start_thread()
    zone.port = server.server.server_address[1]
    try:
        yield zone
    finally:
        server.stop()
