"""Each module declares its own manifest options; the composition root validates them at start."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from modules.timeline.provider import TimelineOptions
from twitterclone.cli import main
from twitterclone.composition import module_options
from twitterclone.manifest import ManifestError, load_manifest, parse_manifest

ROOT = Path(__file__).resolve().parents[3]
REDIS = '[redis]\nurl = "redis://127.0.0.1:6379/0"\n'


def test_a_modules_options_arrive_typed() -> None:
    split = module_options(load_manifest(ROOT / "deployments" / "split.toml"))
    assert split["timeline"] == TimelineOptions(home_store="redis")
    monolith = module_options(load_manifest(ROOT / "deployments" / "monolith.toml"))
    assert monolith["timeline"] == TimelineOptions(home_store="sql")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            REDIS + '[modules.timeline]\noptions = { home_store = "memcached" }',
            "m.toml: key 'modules.timeline.options.home_store': Invalid enum value 'memcached'; "
            "allowed: sql, redis",
        ),
        (
            REDIS + "[modules.timeline]\noptions = { home_store = 3 }",
            "m.toml: key 'modules.timeline.options.home_store': Expected `str`, got `int`",
        ),
        (
            REDIS + '[modules.timeline]\noptions = { colour = "red" }',
            "m.toml: unknown key 'modules.timeline.options.colour'",
        ),
        (
            '[modules.users]\noptions = { x = "y" }',
            "m.toml: unknown key 'modules.users.options.x'; users takes no options",
        ),
        (
            '[modules.timeline]\noptions = { home_store = "redis" }',
            "m.toml: key 'modules.timeline.options' needs a [redis] section",
        ),
    ],
)
def test_a_bad_option_names_the_file_the_key_and_the_allowed_values(text: str, message: str) -> None:
    manifest = parse_manifest('name = "x"\n' + text, source="m.toml")  # the manifest alone accepts it
    with pytest.raises(ManifestError) as info:
        module_options(manifest)
    assert message in str(info.value)


def test_the_cli_refuses_a_bad_option_before_starting_anything(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[modules.timeline]\noptions = { home_store = "memcached" }\n')
    result = CliRunner().invoke(main, ["migrate", "--manifest", str(bad)])
    assert result.exit_code != 0
    assert f"{bad}: key 'modules.timeline.options.home_store'" in result.output
    assert "allowed: sql, redis" in result.output
    assert not (tmp_path / "data").exists()


def test_the_source_of_a_manifest_is_not_a_key() -> None:
    with pytest.raises(ManifestError, match="unknown key 'source'"):
        parse_manifest('name = "x"\nsource = "elsewhere.toml"', source="m.toml")
    assert parse_manifest('name = "x"', source="m.toml").source == "m.toml"
