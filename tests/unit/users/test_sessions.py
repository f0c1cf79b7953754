"""Sessions against a real (SQLite) store: token pairs, refresh rotation, signing keys, token status."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import jwt
import msgspec
import pytest
import sqlalchemy as sa
from users_testkit import PASSWORD, make_service, one, register

from boundaries.users.dto import Login
from boundaries.users.errors import InvalidRefreshToken
from modules.users.service import UsersService
from modules.users.sessions import Sessions
from modules.users.tables import refresh_tokens, signing_keys
from twitterclone.infra.store import ModuleStore


@pytest.fixture
def sessions(service: UsersService) -> Sessions:
    return service.sessions


async def test_access_token_is_an_eddsa_at_jwt_verifiable_with_the_jwks(
    service: UsersService, sessions: Sessions
) -> None:
    user_id = await register(service, "tokens")
    pair = await sessions.authenticate(Login(login="tokens", password=PASSWORD))
    assert pair.user_id == user_id
    assert pair.expires_in == 900
    header = jwt.get_unverified_header(pair.access_token)
    assert header["alg"] == "EdDSA"
    assert header["typ"] == "at+jwt"
    [key] = (await sessions.jwks()).keys
    assert header["kid"] == key.kid
    claims = jwt.decode(
        pair.access_token,
        jwt.PyJWK(msgspec.to_builtins(key)),
        algorithms=["EdDSA"],
        audience="twitterclone-api",
        issuer="twitterclone",
    )
    assert claims["sub"] == user_id
    assert claims["scope"] == "read write follow"
    assert claims["exp"] - claims["iat"] == 900
    assert claims["nbf"] == claims["iat"]
    assert claims["jti"]
    assert "client_id" not in claims  # a first-party token names no client


async def test_refresh_tokens_are_stored_only_as_sha256(
    service: UsersService, sessions: Sessions, store: ModuleStore
) -> None:
    await register(service, "hashed")
    pair = await sessions.authenticate(Login(login="hashed", password=PASSWORD))
    row = await one(store, sa.select(refresh_tokens))
    assert row.token_hash == hashlib.sha256(pair.refresh_token.encode()).hexdigest()
    assert pair.refresh_token not in row


async def test_reuse_of_a_rotated_refresh_token_revokes_the_whole_family(
    service: UsersService, sessions: Sessions, store: ModuleStore
) -> None:
    await register(service, "family")
    first = await sessions.authenticate(Login(login="family", password=PASSWORD))
    other_session = await sessions.authenticate(Login(login="family", password=PASSWORD))
    second = await sessions.refresh(first.refresh_token)
    third = await sessions.refresh(second.refresh_token)

    with pytest.raises(InvalidRefreshToken):
        await sessions.refresh(first.refresh_token)  # reuse
    with pytest.raises(InvalidRefreshToken):
        await sessions.refresh(third.refresh_token)  # the newest of that family is dead too
    # Another login is another family: untouched.
    assert (await sessions.refresh(other_session.refresh_token)).user_id == first.user_id
    async with store.read() as conn:
        revoked = (
            await conn.execute(sa.select(sa.func.count()).where(refresh_tokens.c.revoked_at.is_not(None)))
        ).scalar_one()
    assert revoked == 3


async def test_logout_revokes_the_family_and_ignores_unknown_tokens(
    service: UsersService, sessions: Sessions
) -> None:
    await register(service, "leaver")
    first = await sessions.authenticate(Login(login="leaver", password=PASSWORD))
    second = await sessions.refresh(first.refresh_token)
    other = await sessions.authenticate(Login(login="leaver", password=PASSWORD))
    await sessions.logout(first.refresh_token)  # an old token of the family still names it
    with pytest.raises(InvalidRefreshToken):
        await sessions.refresh(second.refresh_token)
    await sessions.logout("never-issued")
    assert (await sessions.refresh(other.refresh_token)).user_id == first.user_id


async def test_expired_refresh_token_is_refused(store: ModuleStore) -> None:
    service = make_service(store, refresh_token_ttl_days=0)
    await register(service, "expiring")
    pair = await service.sessions.authenticate(Login(login="expiring", password=PASSWORD))
    with pytest.raises(InvalidRefreshToken):
        await service.sessions.refresh(pair.refresh_token)


async def test_signing_key_survives_restart_and_retired_keys_leave_the_jwks(store: ModuleStore) -> None:
    first = make_service(store)
    kid = (await first.sessions.jwks()).keys[0].kid
    assert [k.kid for k in (await make_service(store).sessions.jwks()).keys] == [kid]

    async with store.transaction() as tx:
        await tx.conn.execute(sa.update(signing_keys).values(retired_at=datetime.now(UTC)))
    fresh = make_service(store)
    keys = (await fresh.sessions.jwks()).keys
    assert len(keys) == 1
    assert keys[0].kid != kid
    assert (keys[0].kty, keys[0].crv, keys[0].alg) == ("OKP", "Ed25519", "EdDSA")


async def test_token_settings_name_issuer_audience_and_algorithm(store: ModuleStore) -> None:
    settings = await make_service(store, jwt_issuer="iss-x", jwt_audience="aud-y").sessions.token_settings()
    assert (settings.issuer, settings.audience, settings.algorithm) == ("iss-x", "aud-y", "EdDSA")


async def test_unknown_subjects_are_not_active(any_store: ModuleStore) -> None:
    sessions = make_service(any_store).sessions  # the status statements, on SQLite and PostgreSQL
    assert await sessions.token_active("123", None) is False
    assert await sessions.token_active("client:nope", None) is False
    assert await sessions.token_active("not-an-id", None) is False
