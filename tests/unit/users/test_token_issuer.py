"""The token issuer that sessions and OAuth share, against a real (SQLite) store."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
import sqlalchemy as sa
from users_testkit import PASSWORD, one, register

from boundaries.users.dto import ClientRegistration, Login, TokenRequest
from boundaries.users.errors import InvalidRefreshToken
from modules.users.service import UsersService
from modules.users.tables import refresh_tokens, users
from modules.users.tokens import TokenIssuer
from twitterclone.infra.store import ModuleStore


@pytest.fixture
def issuer(service: UsersService) -> TokenIssuer:
    return service.issuer


async def new_refresh(
    store: ModuleStore, issuer: TokenIssuer, user_id: str, family: int, **extra: str
) -> str:
    async with store.transaction() as tx:
        return await issuer.new_refresh(tx, int(user_id), family, **extra)


async def test_access_tokens_carry_subject_scope_and_only_a_given_client(issuer: TokenIssuer) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    mine = await issuer.issue_access("42", "read", None)
    theirs = await issuer.issue_access("client:app", "read write", "app")
    first, second = (jwt.decode(t.token, options={"verify_signature": False}) for t in (mine, theirs))
    assert (first["sub"], first["scope"], "client_id" in first) == ("42", "read", False)
    assert (second["sub"], second["scope"], second["client_id"]) == ("client:app", "read write", "app")
    assert first["jti"] == mine.jti != theirs.jti  # each token its own id, to deny it by
    assert mine.expires_at.replace(microsecond=0) == datetime.fromtimestamp(first["exp"], UTC)
    assert before + timedelta(seconds=900) <= mine.expires_at <= datetime.now(UTC) + timedelta(seconds=900)
    assert jwt.get_unverified_header(mine.token)["typ"] == "at+jwt"


async def test_refresh_tokens_are_stored_as_sha256_with_family_client_and_scope(
    service: UsersService, issuer: TokenIssuer, store: ModuleStore
) -> None:
    user_id = await register(service, "holder")
    token = await new_refresh(store, issuer, user_id, 77, client_id="app", scope="read")
    row = await one(store, sa.select(refresh_tokens))
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in row
    assert (row.user_id, row.family_id, row.client_id, row.scope) == (int(user_id), 77, "app", "read")
    assert row.expires_at - row.created_at == timedelta(days=30)


async def test_rotation_keeps_the_family_and_binds_tokens_to_their_client(
    service: UsersService, issuer: TokenIssuer, store: ModuleStore
) -> None:
    user_id = await register(service, "rotor")
    token = await new_refresh(store, issuer, user_id, 5, client_id="app", scope="read")
    with pytest.raises(InvalidRefreshToken):
        await issuer.rotate_refresh(token, None)  # first-party use of a client's token
    with pytest.raises(InvalidRefreshToken):
        await issuer.rotate_refresh(token, "other-app")
    row, successor = await issuer.rotate_refresh(token, "app")
    assert (row.user_id, row.family_id, row.scope) == (int(user_id), 5, "read")
    stored = await one(
        store,
        sa.select(refresh_tokens).where(
            refresh_tokens.c.token_hash == hashlib.sha256(successor.encode()).hexdigest()
        ),
    )
    assert (stored.family_id, stored.client_id, stored.scope, stored.used_at) == (5, "app", "read", None)


async def test_reuse_revokes_the_family_before_refusing(
    service: UsersService, issuer: TokenIssuer, store: ModuleStore
) -> None:
    user_id = await register(service, "reuser")
    token = await new_refresh(store, issuer, user_id, 9)
    _, successor = await issuer.rotate_refresh(token, None)
    with pytest.raises(InvalidRefreshToken, match="already used"):
        await issuer.rotate_refresh(token, None)
    with pytest.raises(InvalidRefreshToken):
        await issuer.rotate_refresh(successor, None)
    async with store.read() as conn:
        live = (
            await conn.execute(sa.select(refresh_tokens).where(refresh_tokens.c.revoked_at.is_(None)))
        ).all()
    assert live == []


async def test_a_suspended_owner_cannot_rotate(
    service: UsersService, issuer: TokenIssuer, store: ModuleStore
) -> None:
    user_id = await register(service, "gone")
    token = await new_refresh(store, issuer, user_id, 3)
    async with store.transaction() as tx:
        await tx.conn.execute(sa.update(users).values(suspended_at=datetime.now(UTC)))
    with pytest.raises(InvalidRefreshToken):
        await issuer.rotate_refresh(token, None)


async def test_sessions_and_oauth_issue_through_the_one_issuer(
    service: UsersService, issuer: TokenIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued: list[tuple[str, str | None]] = []
    real = issuer.issue_access

    async def recording(subject: str, scope: str, client_id: str | None) -> Any:
        issued.append((subject, client_id))
        return await real(subject, scope, client_id)

    monkeypatch.setattr(issuer, "issue_access", recording)
    owner = await register(service, "owner")
    await service.authenticate(Login(login="owner", password=PASSWORD))
    app = await service.register_client(owner, ClientRegistration(name="svc", grants=["client_credentials"]))
    await service.exchange_token(
        TokenRequest(
            grant_type="client_credentials", client_id=app.client_id, client_secret=app.client_secret
        )
    )
    assert issued == [(owner, None), (f"client:{app.client_id}", app.client_id)]
