"""Moderation against real SQLite and PostgreSQL: suspensions end every kind of token; key lifecycle."""

from __future__ import annotations

import jwt
import pytest
import sqlalchemy as sa
from users_testkit import PASSWORD, make_service, register

from boundaries._kernel.errors import InvalidInput
from boundaries.users.dto import ClientRegistration, Login, TokenRequest
from boundaries.users.errors import (
    AccountSuspended,
    InvalidCredentials,
    InvalidRefreshToken,
    NotAdmin,
    OAuthInvalidClient,
    SigningKeyInUse,
    SigningKeyNotFound,
    UserNotFound,
)
from modules.users.service import UsersService
from modules.users.tables import refresh_tokens
from twitterclone.infra.store import ModuleStore


@pytest.fixture
def store(any_store: ModuleStore) -> ModuleStore:
    return any_store


def claims(token: str) -> dict[str, object]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


# -------------------------------------------------------------------------- moderation


async def test_suspension(service: UsersService, store: ModuleStore) -> None:
    admin = await register(service, "admin")
    eve = await register(service, "eve")
    with pytest.raises(NotAdmin):
        await service.moderation.suspend(eve, admin)
    await service.moderation.grant_admin("admin")
    svc = await service.register_client(eve, ClientRegistration(name="svc", grants=["client_credentials"]))
    pair = await service.authenticate(Login(login="eve", password=PASSWORD))
    status = await service.moderation.suspend(admin, eve)
    assert status.suspended
    assert status.role == "user"
    assert await service.token_active(eve, claims(pair.access_token)["jti"]) is False
    assert await service.token_active(f"client:{svc.client_id}", None) is False  # the owner's clients too
    with pytest.raises(AccountSuspended):
        await service.authenticate(Login(login="eve", password=PASSWORD))
    with pytest.raises(InvalidCredentials):
        await service.authenticate(Login(login="eve", password="wrong password"))
    with pytest.raises(InvalidRefreshToken):
        await service.refresh(pair.refresh_token)
    with pytest.raises(OAuthInvalidClient):
        await service.exchange_token(
            TokenRequest(
                grant_type="client_credentials", client_id=svc.client_id, client_secret=svc.client_secret
            )
        )
    async with store.read() as conn:
        live = (
            await conn.execute(sa.select(refresh_tokens).where(refresh_tokens.c.revoked_at.is_(None)))
        ).all()
    assert live == []
    assert not (await service.moderation.unsuspend(admin, eve)).suspended
    assert await service.token_active(eve, None) is True


# ---------------------------------------------------------------------- key lifecycle


async def test_key_rotation_and_retirement(store: ModuleStore) -> None:
    service = make_service(store)
    other_process = make_service(store)
    admin = await register(service, "admin")
    with pytest.raises(NotAdmin):
        await service.moderation.rotate_signing_key(admin)
    await service.moderation.grant_admin("admin")
    first = (await service.authenticate(Login(login="admin", password=PASSWORD))).access_token
    key1 = jwt.get_unverified_header(first)["kid"]

    key2 = await service.moderation.rotate_signing_key(admin)
    assert key2.current
    assert key2.kid != key1
    second = (await service.authenticate(Login(login="admin", password=PASSWORD))).access_token
    assert jwt.get_unverified_header(second)["kid"] == key2.kid
    assert {k.kid for k in (await other_process.jwks()).keys} == {key1, key2.kid}

    with pytest.raises(SigningKeyInUse):
        await service.moderation.retire_signing_key(admin, key2.kid)
    with pytest.raises(SigningKeyNotFound):
        await service.moderation.retire_signing_key(admin, "nope")
    retired = await service.moderation.retire_signing_key(admin, key1)
    assert retired.retired_at is not None
    assert retired.rotated_at is not None
    assert not retired.current
    assert [k.kid for k in (await service.jwks()).keys] == [key2.kid]
    lifecycle = await service.moderation.signing_keys(admin)
    assert [k.kid for k in lifecycle] == [key2.kid, key1]


async def test_account_status_and_what_an_admin_may_not_do(service: UsersService) -> None:
    moderation = service.moderation
    admin = await register(service, "root")
    other = await register(service, "other")
    assert (await moderation.account_status(other)).role == "user"
    with pytest.raises(UserNotFound):
        await moderation.account_status("123")
    with pytest.raises(UserNotFound):
        await moderation.grant_admin("@nobody")
    granted = await moderation.grant_admin("@ROOT")  # the handle as typed, ignoring case and the @
    assert (granted.user_id, granted.role, granted.suspended) == (admin, "admin", False)
    assert (await moderation.account_status(admin)).role == "admin"
    with pytest.raises(InvalidInput):
        await moderation.suspend(admin, admin)
    with pytest.raises(UserNotFound):
        await moderation.suspend(admin, "123")
    suspended = await moderation.suspend(admin, other)
    assert suspended.suspended_at is not None
    assert suspended.suspended_at.tzinfo is not None
    assert (await moderation.suspend(admin, other)).suspended_at == suspended.suspended_at  # idempotent
