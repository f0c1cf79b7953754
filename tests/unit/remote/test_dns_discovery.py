"""Port calls routed by DNS: the instances a headless Service lists are the ones that get calls.

Real HTTP instances on three loopback addresses (one port), a real DNS server, and one caller
(the generic port client over HttpTransport with the ``dns`` registry) that keeps calling while
an instance leaves the answer and a new one joins. The caller is never restarted; the instance
that left is still running, so only DNS (the platform's readiness) can have moved the traffic.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from remote_testkit import MODULE, EchoPort, EchoService, SocketServer, echo_app

from tests.support.dns import dns_zone
from twitterclone.listeners import unused_ports
from twitterclone.registry.dns import DnsRegistry
from twitterclone.remote.client import remote_port
from twitterclone.remote.http import HttpTransport

NAME = "twitterclone-echo-headless.tc.test."


async def answers(port: EchoPort, calls: int) -> Counter[str]:
    return Counter([await port.whoami() for _ in range(calls)])


async def test_calls_follow_the_dns_answer_without_restarting_the_caller() -> None:
    port_number = unused_ports()
    services = {host: EchoService(name=host) for host in ("127.0.0.11", "127.0.0.12", "127.0.0.13")}
    servers = [SocketServer(echo_app(s), port=port_number, host=h) for h, s in services.items()]
    for server in servers:
        await server.start()
    with dns_zone() as zone:
        zone.set(NAME, ["127.0.0.11", "127.0.0.12"])
        registry = DnsRegistry({MODULE: (NAME, port_number)}, refresh_s=0.1, nameservers=[zone.nameserver])
        transport = HttpTransport(None, registry, refresh_interval_s=0.1)  # type: ignore[arg-type]
        port = remote_port(MODULE, EchoPort, transport)
        try:
            assert set(await answers(port, 30)) == {"127.0.0.11", "127.0.0.12"}

            # .11 stops being ready (it keeps running); .13 becomes ready.
            zone.set(NAME, ["127.0.0.12", "127.0.0.13"])
            await asyncio.sleep(0.6)  # a few refresh rounds
            assert set(await answers(port, 30)) == {"127.0.0.12", "127.0.0.13"}

            # The whole service scales to one new instance.
            zone.set(NAME, ["127.0.0.13"])
            await asyncio.sleep(0.6)
            assert set(await answers(port, 10)) == {"127.0.0.13"}
        finally:
            await transport.close()
            for server in servers:
                await server.kill()
