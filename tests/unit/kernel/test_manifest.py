from pathlib import Path

import pytest

from twitterclone.manifest import MODULE_NAMES, ManifestError, load_manifest, parse_manifest

ROOT = Path(__file__).resolve().parents[3]


def test_monolith_manifest_places_every_module_locally() -> None:
    manifest = load_manifest(ROOT / "deployments" / "monolith.toml")
    assert manifest.local_modules == list(MODULE_NAMES)
    assert manifest.database.kind == "sqlite"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name = "x"\n[modules.users]\nplacement = "far"', "modules.users.placement"),
        ('name = "x"\n[modules.users]\nplacement = "far"', "allowed: local, remote"),
        ('name = "x"\ncolour = 1', "unknown key 'colour'"),
        ('name = "x"\n[modules.users]\nreplicas = "two"', "modules.users.replicas"),
        ('name = "x"\n[modules.search]', "unknown module 'search'"),
        ('name = "x"\n[database]\nkind = "mysql"', "allowed: sqlite, postgresql"),
        ('name = "x"\n[database]\nkind = "postgresql"', "database.url is required"),
        ('name = "x"\n[gateway]\nport = "eighty"', "gateway.port"),
        ("name = ", "not valid TOML"),
        ("[gateway]", "name"),
    ],
)
def test_bad_manifest_names_the_key(text: str, message: str) -> None:
    with pytest.raises(ManifestError, match=None) as info:
        parse_manifest(text, source="test.toml")
    assert message in str(info.value)
    assert str(info.value).startswith("test.toml: ")


def test_missing_manifest_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="cannot read the manifest"):
        load_manifest(tmp_path / "nope.toml")


@pytest.mark.parametrize("name", ["split", "hybrid"])
def test_split_manifests_load(name: str) -> None:
    manifest = load_manifest(ROOT / "deployments" / f"{name}.toml")
    assert manifest.remote_modules
    assert manifest.redis is not None
    assert manifest.events.transport == "redis-streams"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'name = "x"\n[registry]\nbackend = "redis"\n[events]\ntransport = "redis-streams"\n'
            '[modules.users]\nplacement = "remote"\nreplicas = 2',
            "replicas need a shared database",
        ),
        (
            'name = "x"\n[redis]\nurl = "redis://h"\n[events]\ntransport = "redis-streams"\n'
            '[modules.users]\nplacement = "remote"',
            "'registry.backend' is 'inprocess'",
        ),
        (
            'name = "x"\n[redis]\nurl = "redis://h"\n[registry]\nbackend = "redis"\n'
            '[modules.users]\nplacement = "remote"',
            "'events.transport' is 'inprocess'",
        ),
        ('name = "x"\n[registry]\nbackend = "redis"', "a [redis] section"),
        ('name = "x"\n[registry]\nbackend = "consul"', "allowed: inprocess, static, redis"),
        ('name = "x"\n[modules.users]\nreplicas = 0', "modules.users.replicas"),
    ],
)
def test_split_mistakes_are_explained(text: str, message: str) -> None:
    with pytest.raises(ManifestError) as info:
        parse_manifest(text, source="m.toml")
    assert message in str(info.value)


_SPLIT_PG = (
    'name = "x"\n[database]\nkind = "postgresql"\nurl = "postgresql+asyncpg://h/db"\n'
    '[redis]\nurl = "redis://h"\n[registry]\nbackend = "redis"\n[events]\ntransport = "redis-streams"\n'
)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            _SPLIT_PG + '[modules.users]\nplacement = "remote"\nautoscale = { max = 3, colour = 1 }',
            "unknown key 'modules.users.autoscale.colour'",
        ),
        (
            _SPLIT_PG + '[modules.users]\nplacement = "remote"\nautoscale = { min = 1 }',
            "modules.users.autoscale",
        ),
        (
            _SPLIT_PG + '[modules.users]\nplacement = "remote"\nautoscale = { min = 0, max = 3 }',
            "key 'modules.users.autoscale.min' must be at least 1",
        ),
        (
            _SPLIT_PG + '[modules.users]\nplacement = "remote"\nautoscale = { min = 3, max = 2 }',
            "key 'modules.users.autoscale.max' must be at least autoscale.min (3)",
        ),
        (
            _SPLIT_PG + '[modules.users]\nplacement = "remote"\nautoscale = { max = 3, target = 101 }',
            "key 'modules.users.autoscale.target' is a CPU per cent",
        ),
        (
            _SPLIT_PG + '[modules.users]\nplacement = "remote"\nreplicas = 5\nautoscale = { max = 3 }',
            "key 'modules.users.replicas' (5) must lie within autoscale.min..max (1..3)",
        ),
        (_SPLIT_PG + "[modules.users]\nautoscale = { max = 3 }", "needs placement = 'remote'"),
        ('name = "x"\n[gateway]\nautoscale = { max = 2 }', "key 'gateway.autoscale.max' is 2 on SQLite"),
        ('name = "x"\n[registry]\nbackend = "dns"\ndns_refresh_s = "soon"', "registry.dns_refresh_s"),
    ],
)
def test_autoscale_and_dns_mistakes_are_explained(text: str, message: str) -> None:
    with pytest.raises(ManifestError) as info:
        parse_manifest(text, source="m.toml")
    assert message in str(info.value)
    assert str(info.value).startswith("m.toml: ")


def test_autoscale_keys_are_read() -> None:
    manifest = parse_manifest(
        _SPLIT_PG + "[gateway]\nautoscale = { min = 2, max = 6, target = 60 }\n"
        '[modules.users]\nplacement = "remote"\nreplicas = 2\nautoscale = { min = 2, max = 8 }\n'
    )
    users = manifest.module("users").autoscale
    assert users is not None
    assert (users.min, users.max, users.target) == (2, 8, 70)
    gateway = manifest.gateway.autoscale
    assert gateway is not None
    assert (gateway.min, gateway.max, gateway.target) == (2, 6, 60)
    assert manifest.module("tweets").autoscale is None


def test_the_gateways_internal_listener_is_its_own_address() -> None:
    hybrid = load_manifest(ROOT / "deployments" / "hybrid.toml")
    assert hybrid.gateway_serves_ports  # media, notifications, analytics call the gateway's modules
    assert hybrid.gateway_internal_address() == ("127.0.0.1", hybrid.gateway.port + 1)
    assert hybrid.gateway_internal_address("10.0.0.5", 9000) == ("10.0.0.5", 9001)  # `serve --host/--port`
    assert not load_manifest(ROOT / "deployments" / "split.toml").gateway_serves_ports  # hosts nothing
    assert not load_manifest(ROOT / "deployments" / "monolith.toml").gateway_serves_ports  # nobody calls
    chosen = parse_manifest(
        'name = "x"\n[gateway]\nport = 80\ninternal_host = "10.1.1.1"\ninternal_port = 9090\n'
    )
    assert chosen.gateway_internal_address("10.9.9.9", 80) == ("10.1.1.1", 9090)


def test_the_internal_listener_may_not_be_the_public_one() -> None:
    with pytest.raises(ManifestError, match=r"gateway\.internal_port"):
        parse_manifest('name = "x"\n[gateway]\nport = 8000\ninternal_port = 8000\n')
    parse_manifest('name = "x"\n[gateway]\nport = 8000\ninternal_port = 8000\ninternal_host = "10.0.0.1"\n')
