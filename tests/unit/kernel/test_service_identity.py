"""Service identity: a key per service, verified with the public key of the service a token names."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from twitterclone.identity import (
    SERVICE_TOKEN_TYP,
    SERVICES,
    InvalidServiceToken,
    PublicKeys,
    ServiceIdentity,
    load_own_key,
    private_key_file,
    provision,
    public_key_file,
)


def identity(keys: Path, service: str) -> ServiceIdentity:
    return ServiceIdentity(load_own_key(keys, service), caller=service, public_keys=PublicKeys(keys))


def test_provision_makes_a_private_key_per_service_and_publishes_its_public_half(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    provision(keys)
    privates = {s: private_key_file(keys, s).read_bytes() for s in SERVICES}
    assert len(set(privates.values())) == len(SERVICES)  # no two services share a key
    for service in SERVICES:
        assert stat.S_IMODE(private_key_file(keys, service).stat().st_mode) == 0o600
        assert public_key_file(keys, service).exists()
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    provision(keys)  # again: nothing changes
    assert {s: private_key_file(keys, s).read_bytes() for s in SERVICES} == privates


def test_a_token_verifies_as_the_service_whose_key_signed_it(tmp_path: Path) -> None:
    provision(tmp_path)
    users = identity(tmp_path, "users")
    tweets = identity(tmp_path, "tweets")
    assert users.verify(tweets.token_for("users"), "users") == "tweets"
    with pytest.raises(InvalidServiceToken):  # addressed to another module
        users.verify(tweets.token_for("media"), "users")


@pytest.mark.parametrize("claimed", ["gateway", "users", "analytics"])
def test_a_service_cannot_sign_as_another(tmp_path: Path, claimed: str) -> None:
    provision(tmp_path)
    users = identity(tmp_path, "users")
    forged = ServiceIdentity(load_own_key(tmp_path, "tweets"), caller=claimed).token_for("users")
    with pytest.raises(InvalidServiceToken):
        users.verify(forged, "users")


@pytest.mark.parametrize("issuer", ["mallory", "../users", "", "users/../gateway"])
def test_an_issuer_that_is_no_service_is_refused_without_reading_a_file_named_by_it(
    tmp_path: Path, issuer: str
) -> None:
    provision(tmp_path / "keys")
    (tmp_path / "users.pub").write_bytes(public_key_file(tmp_path / "keys", "users").read_bytes())
    users = identity(tmp_path / "keys", "users")
    key = Ed25519PrivateKey.generate()
    now = int(time.time())
    token = jwt.encode(
        {"iss": issuer, "aud": "twitterclone:users", "iat": now, "exp": now + 60},
        key,
        algorithm="EdDSA",
        headers={"typ": SERVICE_TOKEN_TYP},
    )
    with pytest.raises(InvalidServiceToken, match="no known service"):
        users.verify(token, "users")


def test_a_key_no_service_owns_is_refused(tmp_path: Path) -> None:
    provision(tmp_path)
    users = identity(tmp_path, "users")
    stranger = ServiceIdentity(Ed25519PrivateKey.generate(), caller="gateway")
    with pytest.raises(InvalidServiceToken):
        users.verify(stranger.token_for("users"), "users")


def test_a_service_that_starts_later_is_known_once_it_made_its_key(tmp_path: Path) -> None:
    users = identity(tmp_path, "users")  # the only key so far
    media = ServiceIdentity(Ed25519PrivateKey.generate(), caller="media")
    with pytest.raises(InvalidServiceToken):
        users.verify(media.token_for("users"), "users")
    media = identity(tmp_path, "media")  # media starts: makes and publishes its key
    assert users.verify(media.token_for("users"), "users") == "media"


def test_an_unknown_service_name_gets_no_key(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown service"):
        load_own_key(tmp_path, "mallory")


def test_the_service_keys_command_makes_every_pair_for_a_platform(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from twitterclone.cli import main

    result = CliRunner().invoke(main, ["service-keys", "--out", str(tmp_path / "keys")])
    assert result.exit_code == 0, result.output
    for service in SERVICES:
        assert private_key_file(tmp_path / "keys", service).exists()
        assert public_key_file(tmp_path / "keys", service).exists()
