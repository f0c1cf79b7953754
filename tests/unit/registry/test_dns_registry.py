"""The ``dns`` registry backend against a real DNS server (tests/support/dns.py) that the test changes.

Instances disappear and appear by editing its records; the caller is never restarted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import dns.exception
import pytest

from tests.support.dns import Zone, dns_zone
from twitterclone.composition import dns_names, make_registry
from twitterclone.manifest import parse_manifest
from twitterclone.registry import Instance
from twitterclone.registry.dns import DnsRegistry


@pytest.fixture
def zone() -> Iterator[Zone]:
    with dns_zone() as running:
        yield running


def addresses(instances: list[Instance]) -> list[str]:
    return [i.address for i in instances]


async def test_instances_come_and_go_without_restarting_the_caller(zone: Zone) -> None:
    records, port = zone, zone.port
    records.set("users.tc.test", ["127.0.0.11", "127.0.0.12"])
    registry = DnsRegistry(
        {"users": ("users.tc.test.", 8101)}, refresh_s=0.1, nameservers=[f"127.0.0.1:{port}"]
    )
    watch = registry.watch("users")
    assert addresses(await anext(watch)) == ["127.0.0.11:8101", "127.0.0.12:8101"]

    records.set("users.tc.test", ["127.0.0.12", "127.0.0.13"])  # one pod gone, a new one ready
    assert addresses(await asyncio.wait_for(anext(watch), 3)) == ["127.0.0.12:8101", "127.0.0.13:8101"]
    assert addresses(await registry.resolve("users")) == ["127.0.0.12:8101", "127.0.0.13:8101"]

    records.set("users.tc.test", [])  # no pod ready: the headless Service answers with nothing
    assert await asyncio.wait_for(anext(watch), 3) == []
    await watch.aclose()


async def test_a_name_nobody_serves_has_no_instances(zone: Zone) -> None:
    port = zone.port
    registry = DnsRegistry(
        {"media": ("media.tc.test.", 8131)}, refresh_s=0, nameservers=[f"127.0.0.1:{port}"]
    )
    assert await registry.resolve("media") == []  # NXDOMAIN
    assert await registry.resolve("unknown") == []  # not a service of this deployment


async def test_a_silent_server_raises_so_the_caller_keeps_what_it_knew(zone: Zone) -> None:
    records, port = zone, zone.port
    records.set("users.tc.test", ["127.0.0.11"])
    registry = DnsRegistry(
        {"users": ("users.tc.test.", 8101)}, refresh_s=0, nameservers=[f"127.0.0.1:{port}"], timeout_s=0.3
    )
    assert addresses(await registry.resolve("users")) == ["127.0.0.11:8101"]
    silent = DnsRegistry(  # a port where nothing answers: a timeout, not "no instances"
        {"users": ("users.tc.test.", 8101)}, refresh_s=0, nameservers=["127.0.0.1:9"], timeout_s=0.3
    )
    with pytest.raises(dns.exception.DNSException):
        await silent.resolve("users")


async def test_lookups_are_cached_for_the_refresh_interval(zone: Zone) -> None:
    records, port = zone, zone.port
    records.set("users.tc.test", ["127.0.0.11"])
    registry = DnsRegistry(
        {"users": ("users.tc.test.", 8101)}, refresh_s=60, nameservers=[f"127.0.0.1:{port}"]
    )
    assert addresses(await registry.resolve("users")) == ["127.0.0.11:8101"]
    records.set("users.tc.test", ["127.0.0.12"])
    assert addresses(await registry.resolve("users")) == ["127.0.0.11:8101"]


def test_the_manifest_names_every_service_and_its_port() -> None:
    manifest = parse_manifest(
        'name = "k"\n[database]\nkind = "postgresql"\nurl = "postgresql+asyncpg://h/db"\n'
        '[redis]\nurl = "redis://h"\n[events]\ntransport = "redis-streams"\n'
        '[registry]\nbackend = "dns"\ndns_name = "tc-{service}-headless"\n'
        'dns_nameservers = ["127.0.0.1:53"]\n'
        '[gateway]\nport = 8000\n[modules.users]\nplacement = "remote"\nport = 8101\n'
    )
    names = dns_names(manifest)
    assert names["users"] == ("tc-users-headless", 8101)
    # local: served by the gateway's pods, on their internal listener (never the public port)
    assert names["tweets"] == ("tc-tweets-headless", 8001)
    assert names["gateway"] == ("tc-gateway-headless", 8000)
    assert isinstance(make_registry(manifest, None), DnsRegistry)  # type: ignore[arg-type]
