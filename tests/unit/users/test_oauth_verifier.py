"""The gateway's TokenVerifier follows key retirement and suspensions made by another process."""

from __future__ import annotations

import asyncio
from typing import Any

import jwt
import pytest
from users_testkit import FAST, PASSWORD

from boundaries.users.dto import Login, Register
from boundaries.users.port import UsersPort
from modules.users.service import UsersService
from twitterclone.gateway.auth import InvalidToken, TokenVerifier
from twitterclone.infra.ids import IdGenerator
from twitterclone.infra.store import ModuleStore
from twitterclone.settings import Settings


def service(store: ModuleStore, worker: int) -> UsersService:
    return UsersService(store, IdGenerator(worker), Settings(**FAST))


def verifier_of(port: UsersPort) -> TokenVerifier:
    async def users() -> UsersPort:
        return port

    return TokenVerifier(users, jwks_max_age_s=0.2, status_cache_s=0.2, refetch_interval_s=0.05)


async def test_a_key_retired_elsewhere_stops_verifying_within_the_max_age(store: ModuleStore) -> None:
    gateway_side, admin_side = service(store, 1), service(store, 2)
    await gateway_side.register(Register(handle="root", email="root@example.org", password=PASSWORD))
    admin = (await admin_side.grant_admin("root")).user_id
    token = (await gateway_side.authenticate(Login(login="root", password=PASSWORD))).access_token
    old_kid = jwt.get_unverified_header(token)["kid"]
    verifier = verifier_of(gateway_side)
    assert (await verifier.verify(token)).user_id == admin

    await admin_side.rotate_signing_key(admin)
    assert (await verifier.verify(token)).user_id == admin  # rotated, not retired: still good
    await admin_side.retire_signing_key(admin, old_kid)
    await asyncio.sleep(0.25)
    with pytest.raises(InvalidToken):
        await verifier.verify(token)


async def test_a_suspension_made_elsewhere_is_seen_within_the_status_cache_time(store: ModuleStore) -> None:
    gateway_side, admin_side = service(store, 3), service(store, 4)
    await gateway_side.register(Register(handle="root", email="root@example.org", password=PASSWORD))
    eve = (
        await gateway_side.register(Register(handle="eve", email="eve@example.org", password=PASSWORD))
    ).profile.id
    admin = (await admin_side.grant_admin("root")).user_id
    token = (await gateway_side.authenticate(Login(login="eve", password=PASSWORD))).access_token
    verifier = verifier_of(gateway_side)
    assert (await verifier.verify(token)).scopes == frozenset({"read", "write", "follow"})

    await admin_side.suspend(admin, eve)
    await asyncio.sleep(0.25)
    with pytest.raises(InvalidToken):
        await verifier.verify(token)


async def test_a_token_is_decoded_once_but_its_status_is_still_asked(
    store: ModuleStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    users = service(store, 5)
    await users.register(Register(handle="root", email="root@example.org", password=PASSWORD))
    eve = (
        await users.register(Register(handle="eve", email="eve@example.org", password=PASSWORD))
    ).profile.id
    admin = (await users.grant_admin("root")).user_id
    token = (await users.authenticate(Login(login="eve", password=PASSWORD))).access_token
    verifier = verifier_of(users)
    decodes: list[str] = []
    real_decode = jwt.decode

    def counting_decode(*args: Any, **kwargs: Any) -> Any:
        decodes.append("decode")
        return real_decode(*args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting_decode)
    for _ in range(3):
        assert (await verifier.verify(token)).user_id == eve
    assert decodes == ["decode"]

    await users.suspend(admin, eve)
    await asyncio.sleep(0.25)  # the status cache's time
    with pytest.raises(InvalidToken):
        await verifier.verify(token)  # remembered as verified, refused as suspended
