"""What the users port promises, whatever the binding (written as port calls only)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import timedelta

import msgspec
import pytest
from users_contract_kit import PASSWORD, make

from boundaries._kernel.errors import InvalidInput
from boundaries._kernel.pagination import PageRequest
from boundaries.users.dto import (
    AuthorizationRequest,
    ClientRegistration,
    Login,
    OAuthToken,
    ProfileUpdate,
    Register,
    TokenRequest,
)
from boundaries.users.errors import (
    Blocked,
    CannotFollowSelf,
    EmailTaken,
    HandleTaken,
    HandleTooSimilar,
    InvalidCredentials,
    InvalidRefreshToken,
    OAuthClientNotFound,
    OAuthError,
    OAuthInvalidClient,
    UserNotFound,
)
from boundaries.users.port import UsersPort


async def test_register_then_log_in_by_handle_or_email_in_any_case(users_port: UsersPort) -> None:
    user_id = await make(users_port, "Carol")
    for login in ("carol", "CAROL", "Carol@Example.org"):
        pair = await users_port.authenticate(Login(login=login, password=PASSWORD))
        assert pair.user_id == user_id
        assert pair.token_type == "Bearer"
    with pytest.raises(InvalidCredentials):
        await users_port.authenticate(Login(login="carol", password="not the password"))
    with pytest.raises(InvalidCredentials):
        await users_port.authenticate(Login(login="nobody", password=PASSWORD))


async def test_taken_handle_and_email(users_port: UsersPort) -> None:
    await make(users_port, "dave")
    with pytest.raises(HandleTaken):
        await users_port.register(Register(handle="DAVE", email="d2@example.org", password=PASSWORD))
    with pytest.raises(EmailTaken):
        await users_port.register(Register(handle="dave2", email="DAVE@example.org", password=PASSWORD))


@pytest.mark.parametrize("look_alike", ["a1ice", "aIice", "AL1CE", "al1ce"])
async def test_look_alike_handles_are_refused_as_too_similar(users_port: UsersPort, look_alike: str) -> None:
    await make(users_port, "alice")
    with pytest.raises(HandleTooSimilar) as refused:
        await users_port.register(Register(handle=look_alike, email="m@example.org", password=PASSWORD))
    assert refused.value.code == "handle-taken"  # the same problem as a taken handle
    assert "too similar" in refused.value.detail
    assert refused.value.field == "handle"
    # The exact handle (any case) still finds the original, and only it.
    assert (await users_port.profile_by_handle("ALICE")).handle == "alice"
    with pytest.raises(UserNotFound):
        await users_port.profile_by_handle(look_alike)


async def test_refresh_rotates_and_logout_revokes(users_port: UsersPort) -> None:
    await make(users_port, "erin")
    first = await users_port.authenticate(Login(login="erin", password=PASSWORD))
    second = await users_port.refresh(first.refresh_token)
    assert second.refresh_token != first.refresh_token
    assert second.access_token != first.access_token
    await users_port.logout(second.refresh_token)
    with pytest.raises(InvalidRefreshToken):
        await users_port.refresh(second.refresh_token)
    await users_port.logout("never-issued")  # no error
    with pytest.raises(InvalidRefreshToken):
        await users_port.refresh("never-issued")


async def test_reusing_a_rotated_token_kills_the_newest_one_too(users_port: UsersPort) -> None:
    await make(users_port, "frank")
    first = await users_port.authenticate(Login(login="frank", password=PASSWORD))
    second = await users_port.refresh(first.refresh_token)
    with pytest.raises(InvalidRefreshToken):
        await users_port.refresh(first.refresh_token)
    with pytest.raises(InvalidRefreshToken):
        await users_port.refresh(second.refresh_token)


async def test_token_settings_and_jwks(users_port: UsersPort) -> None:
    settings = await users_port.token_settings()
    assert (settings.issuer, settings.audience, settings.algorithm) == (
        "twitterclone",
        "twitterclone-api",
        "EdDSA",
    )
    jwks = await users_port.jwks()
    assert len(jwks.keys) == 1
    key = jwks.keys[0]
    assert (key.kty, key.crv, key.alg, key.use) == ("OKP", "Ed25519", "EdDSA", "sig")
    assert key.x
    assert (await users_port.jwks()).keys[0].kid == key.kid  # stable between calls


async def test_profiles_by_id_and_handle(users_port: UsersPort) -> None:
    user_id = await make(users_port, "Grace", display_name="Grace H.")
    assert (await users_port.profile(user_id)).display_name == "Grace H."
    assert (await users_port.profile_by_handle("GRACE")).id == user_id
    account = await users_port.account(user_id)
    assert account.email == "grace@example.org"
    for missing in ("1", "not-an-id"):
        with pytest.raises(UserNotFound):
            await users_port.profile(missing)
    with pytest.raises(UserNotFound):
        await users_port.profile_by_handle("nobody")


async def test_batch_lookups(users_port: UsersPort) -> None:
    a = await make(users_port, "heidi")
    b = await make(users_port, "ivan")
    assert [p.handle for p in await users_port.profiles([b, "42", a, b])] == ["ivan", "heidi", "ivan"]
    assert [(x.id, x.handle) for x in await users_port.authors([a, "42"])] == [(a, "heidi")]
    assert await users_port.ids_by_handles(["Heidi", "IVAN", "zed"]) == {"Heidi": a, "IVAN": b}
    assert await users_port.profiles([]) == []


async def test_a_batch_profile_is_the_profile_read_alone(users_port: UsersPort) -> None:
    # The batch read maps its rows by hand (a hot read): every field as the single read gives it,
    # the time aware and in UTC, the kept counters as they are.
    a = await make(users_port, "olivia", display_name="Olivia O")
    b = await make(users_port, "peggy")
    await users_port.update_profile(a, ProfileUpdate(bio="hi <b>there</b> #tag"))
    await users_port.follow(b, a)
    batch = await users_port.profiles([a, b])
    assert batch == [await users_port.profile(a), await users_port.profile(b)]
    assert (batch[0].followers_count, batch[0].following_count) == (1, 0)
    assert (batch[1].followers_count, batch[1].following_count) == (0, 1)
    assert batch[0].created_at.utcoffset() == timedelta(0)


async def test_update_profile(users_port: UsersPort) -> None:
    user_id = await make(users_port, "judy")
    account = await users_port.update_profile(user_id, ProfileUpdate(bio="about me"))
    assert (account.profile.display_name, account.profile.bio) == ("judy", "about me")
    account = await users_port.update_profile(user_id, ProfileUpdate(display_name="Judy"))
    assert (account.profile.display_name, account.profile.bio) == ("Judy", "about me")
    with pytest.raises(InvalidInput):
        await users_port.update_profile(user_id, ProfileUpdate(bio="x" * 161))
    assert (await users_port.profile(user_id)).bio == "about me"


async def test_follow_rules(users_port: UsersPort) -> None:
    a = await make(users_port, "ken")
    b = await make(users_port, "lia")
    with pytest.raises(CannotFollowSelf):
        await users_port.follow(a, a)
    with pytest.raises(UserNotFound):
        await users_port.follow(a, "12345")
    rel = await users_port.follow(a, b)
    assert (rel.following, rel.followed_by) == (True, False)
    assert (await users_port.follow(a, b)).following
    assert (await users_port.profile(b)).followers_count == 1
    back = await users_port.relationship(b, a)
    assert (back.following, back.followed_by) == (False, True)
    assert not (await users_port.unfollow(a, b)).following
    assert not (await users_port.unfollow(a, b)).following
    assert (await users_port.profile(b)).followers_count == 0


async def test_block_and_mute(users_port: UsersPort) -> None:
    a = await make(users_port, "mia")
    b = await make(users_port, "ned")
    await users_port.follow(b, a)
    rel = await users_port.block(a, b)
    assert rel.blocking
    assert not rel.followed_by
    assert (await users_port.relationship(b, a)).blocked_by
    with pytest.raises(Blocked):
        await users_port.follow(b, a)
    assert not (await users_port.unblock(a, b)).blocking
    assert (await users_port.mute(a, b)).muting
    assert (await users_port.mute(a, b)).muting
    assert not (await users_port.relationship(b, a)).muting  # muting is one-way
    assert not (await users_port.unmute(a, b)).muting


async def test_followers_and_following_pages_newest_first(users_port: UsersPort) -> None:
    star = await make(users_port, "star")
    fans = [await make(users_port, f"fan{i}") for i in range(5)]
    for fan in fans:
        await users_port.follow(fan, star)
    first = await users_port.followers(star, PageRequest(limit=2))
    assert [p.id for p in first.items] == [fans[4], fans[3]]
    assert first.next_cursor
    second = await users_port.followers(star, PageRequest(limit=2, cursor=first.next_cursor))
    third = await users_port.followers(star, PageRequest(limit=2, cursor=second.next_cursor))
    assert [p.id for p in second.items + third.items] == [fans[2], fans[1], fans[0]]
    assert third.next_cursor is None
    assert [p.id for p in (await users_port.following(fans[0], PageRequest())).items] == [star]
    with pytest.raises(UserNotFound):
        await users_port.followers("999", PageRequest())
    with pytest.raises(InvalidInput):
        await users_port.followers(star, PageRequest(cursor="garbage"))


async def test_fan_out_helpers(users_port: UsersPort) -> None:
    big = await make(users_port, "big")
    small = await make(users_port, "small")
    reader = await make(users_port, "reader")
    extra = await make(users_port, "extra")
    for follower in (reader, extra):
        await users_port.follow(follower, big)
    await users_port.follow(reader, small)
    assert sorted(await users_port.following_ids(reader)) == sorted([big, small])
    assert await users_port.popular_following_ids(reader, 2) == [big]
    page = await users_port.follower_ids(big, None, 1)
    rest = await users_port.follower_ids(big, page.next_cursor, 5000)
    assert sorted(page.ids + rest.ids) == sorted([reader, extra])
    assert rest.next_cursor is None


async def test_search_by_handle_or_display_name_prefix(users_port: UsersPort) -> None:
    await make(users_port, "oscar")
    await make(users_port, "olga")
    await make(users_port, "zed", display_name="Oswald")
    await make(users_port, "peggy")
    found = await users_port.search("OS", PageRequest())
    assert sorted(p.handle for p in found.items) == ["oscar", "zed"]
    first = await users_port.search("o", PageRequest(limit=2))
    assert len(first.items) == 2
    assert first.next_cursor
    second = await users_port.search("o", PageRequest(limit=2, cursor=first.next_cursor))
    assert {p.handle for p in first.items + second.items} == {"oscar", "olga", "zed"}
    assert second.next_cursor is None


# ------------------------------------------------------------------------- OAuth client management

REDIRECT = "http://127.0.0.1:8765/callback"


async def client_tokens(port: UsersPort, client_id: str, handle: str) -> OAuthToken:
    """Run the authorization code flow (PKCE) for ``handle`` through the port."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    request = AuthorizationRequest(
        response_type="code",
        client_id=client_id,
        redirect_uri=REDIRECT,
        scope="read",
        state="s",
        code_challenge=challenge,
        code_challenge_method="S256",
    )
    code = await port.approve_authorization(request, Login(login=handle, password=PASSWORD))
    return await port.exchange_token(
        TokenRequest(
            grant_type="authorization_code",
            client_id=client_id,
            code=code.code,
            redirect_uri=REDIRECT,
            code_verifier=verifier,
        )
    )


def token_id(access_token: str) -> str:
    payload = access_token.split(".")[1]
    claims = msgspec.json.decode(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["jti"])


async def test_owners_list_their_clients_without_secrets(users_port: UsersPort) -> None:
    owner = await make(users_port, "owner")
    other = await make(users_port, "other")
    first = await users_port.register_client(
        owner, ClientRegistration(name="First", redirect_uris=[REDIRECT])
    )
    second = await users_port.register_client(
        owner, ClientRegistration(name="Second", redirect_uris=[REDIRECT], confidential=False)
    )
    assert first.client_secret
    listed = await users_port.list_clients(owner)
    assert [c.client_id for c in listed] == [second.client_id, first.client_id]  # newest first
    assert all(c.client_secret is None for c in listed)
    assert listed[1].name == "First"
    assert listed[1].confidential is True
    assert listed[1].redirect_uris == [REDIRECT]
    assert await users_port.list_clients(other) == []


async def test_deleting_a_client_revokes_what_it_holds(users_port: UsersPort) -> None:
    owner = await make(users_port, "owner")
    user = await make(users_port, "reader")
    app = await users_port.register_client(
        owner, ClientRegistration(name="App", redirect_uris=[REDIRECT], confidential=False)
    )
    tokens = await client_tokens(users_port, app.client_id, "reader")
    assert await users_port.token_active(user, token_id(tokens.access_token))

    await users_port.delete_client(owner, app.client_id)
    assert await users_port.list_clients(owner) == []
    # Its access token is denied at once, its refresh token and the client itself stop working.
    assert not await users_port.token_active(user, token_id(tokens.access_token))
    assert tokens.refresh_token is not None
    with pytest.raises(OAuthInvalidClient):
        await users_port.exchange_token(
            TokenRequest(
                grant_type="refresh_token", client_id=app.client_id, refresh_token=tokens.refresh_token
            )
        )
    with pytest.raises(OAuthError):
        await client_tokens(users_port, app.client_id, "reader")
    # The user's own first-party sessions are untouched.
    assert (await users_port.authenticate(Login(login="reader", password=PASSWORD))).user_id == user
    # Deleting again is no error for the owner (idempotent).
    await users_port.delete_client(owner, app.client_id)


async def test_another_users_client_is_not_found(users_port: UsersPort) -> None:
    owner = await make(users_port, "owner")
    mallory = await make(users_port, "mallory")
    app = await users_port.register_client(owner, ClientRegistration(name="App", redirect_uris=[REDIRECT]))
    for client_id in (app.client_id, "no-such-client", "not/an/id"):
        with pytest.raises(OAuthClientNotFound):
            await users_port.delete_client(mallory, client_id)
    assert [c.client_id for c in await users_port.list_clients(owner)] == [app.client_id]
