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
