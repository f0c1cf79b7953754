"""Credentials against a real (SQLite) store: argon2id, rehashing on login, no account oracle."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from users_testkit import PASSWORD, make_service, one, register

from boundaries.users.dto import Login, Register
from boundaries.users.errors import InvalidCredentials
from modules.users.service import UsersService
from modules.users.tables import users
from twitterclone.infra.store import ModuleStore


async def test_login_rehashes_when_the_hash_parameters_change(store: ModuleStore) -> None:
    weak = make_service(store)
    account = await weak.accounts.register(
        Register(handle="rehash", email="rehash@example.org", password=PASSWORD)
    )
    before = (await one(store, sa.select(users.c.password_hash)))[0]
    assert "m=8192,t=1,p=1" in before

    stronger = make_service(store, argon2_time_cost=2, argon2_memory_kib=16384)
    assert await stronger.credentials.check_login(Login(login="rehash", password=PASSWORD)) == int(
        account.profile.id
    )
    after = (await one(store, sa.select(users.c.password_hash)))[0]
    assert after != before
    assert "m=16384,t=2,p=1" in after
    # The new hash still checks out, and a second login does not rehash again.
    await stronger.credentials.check_login(Login(login="rehash@example.org", password=PASSWORD))
    assert (await one(store, sa.select(users.c.password_hash)))[0] == after


async def test_unknown_login_spends_a_password_check_and_answers_like_a_wrong_password(
    service: UsersService, monkeypatch: pytest.MonkeyPatch
) -> None:
    await register(service, "known")
    credentials = service.credentials
    checks: list[str] = []
    real = credentials._verify

    def counting(password_hash: str, password: str) -> bool:
        checks.append(password_hash)
        return real(password_hash, password)

    monkeypatch.setattr(credentials, "_verify", counting)
    with pytest.raises(InvalidCredentials) as unknown:
        await service.authenticate(Login(login="nobody", password=PASSWORD))
    with pytest.raises(InvalidCredentials) as wrong:
        await service.authenticate(Login(login="known", password="wrong password"))
    assert str(unknown.value) == str(wrong.value)
    assert len(checks) == 2  # one argon2 verify each, known user or not
    assert checks[0].startswith("$argon2id$")
