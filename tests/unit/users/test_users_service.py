"""The users service against a real (SQLite) store: storage, hashing, tokens and events."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import msgspec
import pytest
import sqlalchemy as sa

from boundaries._kernel.errors import InvalidInput
from boundaries._kernel.pagination import PageRequest
from boundaries.users.dto import Login, ProfileUpdate, Register
from boundaries.users.errors import (
    Blocked,
    EmailTaken,
    HandleTaken,
    InvalidCredentials,
    InvalidRefreshToken,
)
from modules.users.service import UsersService
from modules.users.tables import refresh_tokens, signing_keys, users
from twitterclone.infra.events import decode_event
from twitterclone.infra.ids import IdGenerator
from twitterclone.infra.store import ModuleStore, sqlite_url
from twitterclone.migrate import migrate
from twitterclone.settings import Settings

FAST: dict[str, Any] = {"argon2_time_cost": 1, "argon2_memory_kib": 8192, "argon2_parallelism": 1}
PASSWORD = "correct horse battery"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[ModuleStore]:
    store = ModuleStore("users", sqlite_url(tmp_path, "users"))
    await migrate(store)
    yield store
    await store.dispose()


_worker = iter(range(1, 1000))


def make_service(store: ModuleStore, **overrides: Any) -> UsersService:
    settings = Settings(data_dir=str(Path(store.url.split("///")[1]).parent), **{**FAST, **overrides})
    return UsersService(store, IdGenerator(next(_worker)), settings)


@pytest.fixture
def service(store: ModuleStore) -> UsersService:
    return make_service(store)


async def register(service: UsersService, handle: str, **extra: Any) -> str:
    account = await service.register(
        Register(handle=handle, email=f"{handle.lower()}@example.org", password=PASSWORD, **extra)
    )
    return account.profile.id


async def events(store: ModuleStore) -> list[Any]:
    async with store.read() as conn:
        rows = (await conn.execute(sa.select(store.outbox.c.payload).order_by(store.outbox.c.seq))).scalars()
        return [decode_event(p) for p in rows]


async def one(store: ModuleStore, query: Any) -> Any:
    async with store.read() as conn:
        return (await conn.execute(query)).first()


# ----------------------------------------------------------------- accounts


async def test_register_stores_lowercased_copies_and_emits_user_registered(
    service: UsersService, store: ModuleStore
) -> None:
    account = await service.register(
        Register(handle="MixedCase", email="Mixed@Example.ORG", password=PASSWORD)
    )
    assert account.email == "mixed@example.org"
    assert account.profile.handle == "MixedCase"
    assert account.profile.display_name == "MixedCase"  # defaults to the handle
    assert account.profile.created_at.tzinfo is not None
    row = await one(store, sa.select(users).where(users.c.id == int(account.profile.id)))
    assert row.handle_lower == "mixedcase"
    assert row.password_hash.startswith("$argon2id$")
    assert PASSWORD not in row.password_hash
    [event] = await events(store)
    assert type(event).__name__ == "UserRegistered"
    assert (event.user_id, event.handle, event.display_name) == (account.profile.id, "MixedCase", "MixedCase")


async def test_handles_and_emails_are_unique_ignoring_case(service: UsersService) -> None:
    await service.register(Register(handle="alice", email="alice@example.org", password=PASSWORD))
    with pytest.raises(HandleTaken):
        await service.register(Register(handle="ALICE", email="other@example.org", password=PASSWORD))
    with pytest.raises(EmailTaken):
        await service.register(Register(handle="alice2", email="ALICE@example.ORG", password=PASSWORD))


@pytest.mark.parametrize(
    ("handle", "email", "password", "field"),
    [
        ("bad-handle", "x@example.org", PASSWORD, "handle"),
        ("a" * 16, "x@example.org", PASSWORD, "handle"),
        ("", "x@example.org", PASSWORD, "handle"),
        ("okhandle", "not-an-email", PASSWORD, "email"),
        ("okhandle", "x@example.org", "short", "password"),
    ],
)
async def test_register_rechecks_rules_the_dto_states(
    service: UsersService, store: ModuleStore, handle: str, email: str, password: str, field: str
) -> None:
    # A Struct built in code is not validated by msgspec: the service must check again.
    with pytest.raises(InvalidInput) as info:
        await service.register(Register(handle=handle, email=email, password=password))
    assert info.value.field == field
    assert await one(store, sa.select(sa.func.count()).select_from(users)) == (0,)


async def test_login_rehashes_when_the_hash_parameters_change(store: ModuleStore) -> None:
    weak = make_service(store)
    await weak.register(Register(handle="rehash", email="rehash@example.org", password=PASSWORD))
    before = (await one(store, sa.select(users.c.password_hash)))[0]
    assert "m=8192,t=1,p=1" in before

    stronger = make_service(store, argon2_time_cost=2, argon2_memory_kib=16384)
    await stronger.authenticate(Login(login="rehash", password=PASSWORD))
    after = (await one(store, sa.select(users.c.password_hash)))[0]
    assert after != before
    assert "m=16384,t=2,p=1" in after
    # The new hash still checks out, and a second login does not rehash again.
    await stronger.authenticate(Login(login="rehash@example.org", password=PASSWORD))
    assert (await one(store, sa.select(users.c.password_hash)))[0] == after


async def test_unknown_login_spends_a_password_check_and_answers_like_a_wrong_password(
    service: UsersService, monkeypatch: pytest.MonkeyPatch
) -> None:
    await register(service, "known")
    checks: list[str] = []
    real = service._verify

    def counting(password_hash: str, password: str) -> bool:
        checks.append(password_hash)
        return real(password_hash, password)

    monkeypatch.setattr(service, "_verify", counting)
    with pytest.raises(InvalidCredentials) as unknown:
        await service.authenticate(Login(login="nobody", password=PASSWORD))
    with pytest.raises(InvalidCredentials) as wrong:
        await service.authenticate(Login(login="known", password="wrong password"))
    assert str(unknown.value) == str(wrong.value)
    assert len(checks) == 2  # one argon2 verify each, known user or not
    assert checks[0].startswith("$argon2id$")


# ------------------------------------------------------------------- tokens


async def test_access_token_is_an_eddsa_at_jwt_verifiable_with_the_jwks(service: UsersService) -> None:
    user_id = await register(service, "tokens")
    pair = await service.authenticate(Login(login="tokens", password=PASSWORD))
    assert pair.user_id == user_id
    assert pair.expires_in == 900
    header = jwt.get_unverified_header(pair.access_token)
    assert header["alg"] == "EdDSA"
    assert header["typ"] == "at+jwt"
    [key] = (await service.jwks()).keys
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


async def test_refresh_tokens_are_stored_only_as_sha256(service: UsersService, store: ModuleStore) -> None:
    await register(service, "hashed")
    pair = await service.authenticate(Login(login="hashed", password=PASSWORD))
    row = await one(store, sa.select(refresh_tokens))
    assert row.token_hash == hashlib.sha256(pair.refresh_token.encode()).hexdigest()
    assert pair.refresh_token not in row


async def test_reuse_of_a_rotated_refresh_token_revokes_the_whole_family(
    service: UsersService, store: ModuleStore
) -> None:
    await register(service, "family")
    first = await service.authenticate(Login(login="family", password=PASSWORD))
    other_session = await service.authenticate(Login(login="family", password=PASSWORD))
    second = await service.refresh(first.refresh_token)
    third = await service.refresh(second.refresh_token)

    with pytest.raises(InvalidRefreshToken):
        await service.refresh(first.refresh_token)  # reuse
    with pytest.raises(InvalidRefreshToken):
        await service.refresh(third.refresh_token)  # the newest of that family is dead too
    # Another login is another family: untouched.
    assert (await service.refresh(other_session.refresh_token)).user_id == first.user_id
    async with store.read() as conn:
        revoked = (
            await conn.execute(sa.select(sa.func.count()).where(refresh_tokens.c.revoked_at.is_not(None)))
        ).scalar_one()
    assert revoked == 3


async def test_expired_refresh_token_is_refused(store: ModuleStore) -> None:
    service = make_service(store, refresh_token_ttl_days=0)
    await register(service, "expiring")
    pair = await service.authenticate(Login(login="expiring", password=PASSWORD))
    with pytest.raises(InvalidRefreshToken):
        await service.refresh(pair.refresh_token)


async def test_signing_key_survives_restart_and_retired_keys_leave_the_jwks(store: ModuleStore) -> None:
    first = make_service(store)
    kid = (await first.jwks()).keys[0].kid
    assert [k.kid for k in (await make_service(store).jwks()).keys] == [kid]

    async with store.transaction() as tx:
        await tx.conn.execute(sa.update(signing_keys).values(retired_at=datetime.now(UTC)))
    fresh = make_service(store)
    keys = (await fresh.jwks()).keys
    assert len(keys) == 1
    assert keys[0].kid != kid
    assert (keys[0].kty, keys[0].crv, keys[0].alg) == ("OKP", "Ed25519", "EdDSA")


# ---------------------------------------------------------------- profiles


async def test_update_profile_rechecks_limits_and_emits_only_on_change(
    service: UsersService, store: ModuleStore
) -> None:
    user_id = await register(service, "profiled")
    with pytest.raises(InvalidInput):
        await service.update_profile(user_id, ProfileUpdate(display_name="n" * 51))
    with pytest.raises(InvalidInput):
        await service.update_profile(user_id, ProfileUpdate(bio="b" * 161))
    assert (await service.profile(user_id)).display_name == "profiled"

    account = await service.update_profile(user_id, ProfileUpdate(display_name="New Name", bio="hello"))
    assert (account.profile.display_name, account.profile.bio) == ("New Name", "hello")
    await service.update_profile(user_id, ProfileUpdate(bio="hello"))  # no change
    updates = [e for e in await events(store) if type(e).__name__ == "ProfileUpdated"]
    assert len(updates) == 1
    assert (updates[0].display_name, updates[0].bio) == ("New Name", "hello")


# ------------------------------------------------------------ follow graph


async def test_follow_counts_and_events_change_only_on_real_change(
    service: UsersService, store: ModuleStore
) -> None:
    a = await register(service, "fa")
    b = await register(service, "fb")
    await service.follow(a, b)
    await service.follow(a, b)
    assert (await service.profile(b)).followers_count == 1
    assert (await service.profile(a)).following_count == 1
    await service.unfollow(a, b)
    await service.unfollow(a, b)
    assert (await service.profile(b)).followers_count == 0
    kinds = [type(e).__name__ for e in await events(store)]
    assert kinds.count("UserFollowed") == 1
    assert kinds.count("UserUnfollowed") == 1


async def test_block_ends_follows_both_ways_with_events_and_stops_new_follows(
    service: UsersService, store: ModuleStore
) -> None:
    a = await register(service, "ba")
    b = await register(service, "bb")
    await service.follow(a, b)
    await service.follow(b, a)
    rel = await service.block(a, b)
    assert (rel.blocking, rel.following, rel.followed_by) == (True, False, False)
    await service.block(a, b)  # idempotent
    assert (await service.profile(a)).followers_count == 0
    assert (await service.profile(a)).following_count == 0
    unfollows = [e for e in await events(store) if type(e).__name__ == "UserUnfollowed"]
    assert {(e.follower_id, e.followee_id) for e in unfollows} == {(a, b), (b, a)}
    with pytest.raises(Blocked):
        await service.follow(b, a)
    with pytest.raises(Blocked):
        await service.follow(a, b)
    await service.unblock(a, b)
    assert (await service.follow(b, a)).following


async def test_fan_out_reads_page_through_every_follower(service: UsersService) -> None:
    star = await register(service, "star")
    fans = [await register(service, f"fan{i}") for i in range(7)]
    for fan in fans:
        await service.follow(fan, star)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = await service.follower_ids(star, cursor, 3)
        seen += page.ids
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == sorted(fans)
    assert len(seen) == len(set(seen))
    assert pages == 3
    assert await service.following_ids(fans[0]) == [star]
    assert await service.popular_following_ids(fans[0], 7) == [star]
    assert await service.popular_following_ids(fans[0], 8) == []


async def test_search_escapes_like_wildcards(service: UsersService) -> None:
    await register(service, "a_b")
    await register(service, "axb")
    await register(service, "other", display_name="A_Bee")
    found = await service.search("A_", PageRequest())
    assert sorted(p.handle for p in found.items) == ["a_b", "other"]
    assert (await service.search("%", PageRequest())).items == []


async def test_batch_reads_keep_the_order_asked_and_leave_out_unknowns(service: UsersService) -> None:
    a = await register(service, "one")
    b = await register(service, "two")
    assert [p.id for p in await service.profiles([b, "123", a, "not-an-id"])] == [b, a]
    assert [x.handle for x in await service.authors([a, b])] == ["one", "two"]
    assert await service.ids_by_handles(["ONE", "two", "nobody", "bad-handle"]) == {"ONE": a, "two": b}
