"""What the users port promises about apps (Mastodon's apps API), grants and password changes,
whatever the binding (written as port calls only)."""

from __future__ import annotations

import base64

import msgspec
import pytest
from users_contract_kit import PASSWORD, make

from boundaries._kernel.errors import InvalidInput
from boundaries.users.dto import (
    OOB_REDIRECT_URI,
    AppRegistration,
    AuthorizationRequest,
    Login,
    PasswordChange,
    Register,
    TokenRequest,
)
from boundaries.users.errors import (
    EmailTaken,
    HandleTaken,
    InvalidCredentials,
    InvalidRefreshToken,
    OAuthClientNotFound,
    OAuthInvalidGrant,
    OAuthInvalidScope,
    WrongPassword,
)
from boundaries.users.port import UsersPort

NEW_PASSWORD = "a different good password"


def token_id(access_token: str) -> str:
    payload = access_token.split(".")[1]
    claims = msgspec.json.decode(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["jti"])


async def oob_code_tokens(
    port: UsersPort, app_id: str, secret: str, handle: str, scope: str
) -> tuple[str, str]:
    """The out-of-band code flow of a Mastodon app (no PKCE: the secret authenticates the exchange)."""
    request = AuthorizationRequest(
        response_type="code", client_id=app_id, redirect_uri=OOB_REDIRECT_URI, scope=scope
    )
    prompt = await port.authorization_prompt(request)
    assert prompt.redirect_uri == OOB_REDIRECT_URI
    code = await port.approve_authorization(request, Login(login=handle, password=PASSWORD))
    token = await port.exchange_token(
        TokenRequest(
            grant_type="authorization_code",
            client_id=app_id,
            client_secret=secret,
            code=code.code,
            redirect_uri=OOB_REDIRECT_URI,
        )
    )
    assert token.scope == scope
    assert token.created_at is not None
    assert token.refresh_token is not None
    return token.access_token, token.refresh_token


async def test_anyone_registers_an_app_and_the_app_is_described_by_its_id(users_port: UsersPort) -> None:
    app = await users_port.register_app(
        AppRegistration(
            client_name="Toot",
            redirect_uris=[OOB_REDIRECT_URI, "https://toot.example/cb", "com.example.toot:/oauth"],
            scopes="read write follow push",
            website="https://toot.example",
        )
    )
    assert app.client_secret
    assert app.client_id
    assert app.has_owner is False
    assert app.scopes == ["read", "write", "follow", "push"]
    assert app.redirect_uris == [OOB_REDIRECT_URI, "https://toot.example/cb", "com.example.toot:/oauth"]
    assert set(app.grants) >= {"authorization_code", "refresh_token", "client_credentials"}
    described = await users_port.describe_client(app.client_id)
    assert described.client_secret is None
    assert (described.name, described.website, described.scopes) == (
        "Toot",
        "https://toot.example",
        ["read", "write", "follow", "push"],
    )
    for unknown in ("no-such-app", "not/an/id"):
        with pytest.raises(OAuthClientNotFound):
            await users_port.describe_client(unknown)


@pytest.mark.parametrize(
    "registration",
    [
        {"redirect_uris": ["javascript:alert(1)"]},
        {"redirect_uris": ["http://evil.example/cb"]},  # http only on loopback
        {"redirect_uris": ["https://app.example/cb#frag"]},
        {"scopes": "read admin:write"},
        {"scopes": "everything"},
        {"website": "javascript:alert(1)"},
    ],
)
async def test_bad_app_registrations_are_refused(
    users_port: UsersPort, registration: dict[str, object]
) -> None:
    fields: dict[str, object] = {"client_name": "App", "redirect_uris": [OOB_REDIRECT_URI], **registration}
    with pytest.raises(InvalidInput):
        await users_port.register_app(msgspec.convert(fields, AppRegistration))


async def test_granular_scopes_are_within_broad_ones(users_port: UsersPort) -> None:
    await make(users_port, "alice")
    app = await users_port.register_app(
        AppRegistration(client_name="App", redirect_uris=[OOB_REDIRECT_URI], scopes="read write")
    )
    assert app.client_secret is not None
    await oob_code_tokens(users_port, app.client_id, app.client_secret, "alice", "read:statuses write:media")
    with pytest.raises(OAuthInvalidScope):  # follow is not within read write
        await oob_code_tokens(users_port, app.client_id, app.client_secret, "alice", "follow")


async def test_sign_up_through_an_app_token(users_port: UsersPort) -> None:
    await make(users_port, "taken")
    app = await users_port.register_app(
        AppRegistration(client_name="App", redirect_uris=[OOB_REDIRECT_URI], scopes="read write follow")
    )
    assert app.client_secret is not None
    # The app token (client credentials) stands for the app, not for an account.
    app_token = await users_port.exchange_token(
        TokenRequest(
            grant_type="client_credentials",
            client_id=app.client_id,
            client_secret=app.client_secret,
            scope="read write",
        )
    )
    assert app_token.refresh_token is None
    assert await users_port.token_active(f"client:{app.client_id}", token_id(app_token.access_token))

    signed_up = await users_port.register_through_client(
        app.client_id,
        "read write",
        Register(handle="newcomer", email="newcomer@example.org", password=PASSWORD),
    )
    assert signed_up.scope == "read write"
    assert signed_up.refresh_token is not None
    account = (await users_port.authenticate(Login(login="newcomer", password=PASSWORD))).user_id
    assert await users_port.token_active(account, token_id(signed_up.access_token))
    assert [a.client_id for a in await users_port.authorized_apps(account)] == [app.client_id]
    # Register's rules hold; a scope beyond the app's is refused; an unknown app is not found.
    with pytest.raises(HandleTaken):
        await users_port.register_through_client(
            app.client_id, "read", Register(handle="taken", email="other@example.org", password=PASSWORD)
        )
    with pytest.raises(EmailTaken):
        await users_port.register_through_client(
            app.client_id, "read", Register(handle="another", email="taken@example.org", password=PASSWORD)
        )
    with pytest.raises(OAuthInvalidScope):
        await users_port.register_through_client(
            app.client_id, "push", Register(handle="pushy", email="pushy@example.org", password=PASSWORD)
        )
    with pytest.raises(OAuthClientNotFound):
        await users_port.register_through_client(
            "no-such-app", "read", Register(handle="lost", email="lost@example.org", password=PASSWORD)
        )


async def test_a_user_lists_and_revokes_authorised_apps(users_port: UsersPort) -> None:
    alice = await make(users_port, "alice")
    bob = await make(users_port, "bob")
    first = await users_port.register_app(
        AppRegistration(
            client_name="First", redirect_uris=[OOB_REDIRECT_URI], website="https://first.example"
        )
    )
    second = await users_port.register_app(
        AppRegistration(client_name="Second", redirect_uris=[OOB_REDIRECT_URI])
    )
    assert first.client_secret is not None
    assert second.client_secret is not None
    a_access, a_refresh = await oob_code_tokens(
        users_port, first.client_id, first.client_secret, "alice", "read"
    )
    b_access, _ = await oob_code_tokens(users_port, second.client_id, second.client_secret, "alice", "read")

    apps = await users_port.authorized_apps(alice)
    assert [a.client_id for a in apps] == [second.client_id, first.client_id]  # last used first
    assert (apps[1].name, apps[1].website, apps[1].scopes) == ("First", "https://first.example", ["read"])
    assert await users_port.authorized_apps(bob) == []
    with pytest.raises(OAuthClientNotFound):
        await users_port.revoke_authorized_app(bob, first.client_id)

    await users_port.revoke_authorized_app(alice, first.client_id)
    assert not await users_port.token_active(alice, token_id(a_access))
    assert await users_port.token_active(alice, token_id(b_access))
    with pytest.raises(OAuthInvalidGrant):
        await users_port.exchange_token(
            TokenRequest(
                grant_type="refresh_token",
                client_id=first.client_id,
                client_secret=first.client_secret,
                refresh_token=a_refresh,
            )
        )
    assert [a.client_id for a in await users_port.authorized_apps(alice)] == [second.client_id]
    await users_port.revoke_authorized_app(alice, first.client_id)  # idempotent


async def test_a_password_change_ends_everything_but_the_new_session(users_port: UsersPort) -> None:
    alice = await make(users_port, "alice")
    session = await users_port.authenticate(Login(login="alice", password=PASSWORD))
    app = await users_port.register_app(AppRegistration(client_name="App", redirect_uris=[OOB_REDIRECT_URI]))
    assert app.client_secret is not None
    app_access, _ = await oob_code_tokens(users_port, app.client_id, app.client_secret, "alice", "read")

    with pytest.raises(WrongPassword):
        await users_port.change_password(
            alice, PasswordChange(current_password="wrong one", new_password=NEW_PASSWORD)
        )
    assert await users_port.token_active(alice, token_id(session.access_token))

    fresh = await users_port.change_password(
        alice, PasswordChange(current_password=PASSWORD, new_password=NEW_PASSWORD)
    )
    assert fresh.user_id == alice
    assert await users_port.token_active(alice, token_id(fresh.access_token))
    assert not await users_port.token_active(alice, token_id(session.access_token))
    assert not await users_port.token_active(alice, token_id(app_access))
    with pytest.raises(InvalidRefreshToken):
        await users_port.refresh(session.refresh_token)
    assert await users_port.authorized_apps(alice) == []
    with pytest.raises(InvalidCredentials):
        await users_port.authenticate(Login(login="alice", password=PASSWORD))
    assert (await users_port.authenticate(Login(login="alice", password=NEW_PASSWORD))).user_id == alice
    assert (await users_port.refresh(fresh.refresh_token)).user_id == alice


async def test_logging_out_ends_the_sessions_access_tokens_too(users_port: UsersPort) -> None:
    erin = await make(users_port, "erin")
    first = await users_port.authenticate(Login(login="erin", password=PASSWORD))
    second = await users_port.refresh(first.refresh_token)
    other = await users_port.authenticate(Login(login="erin", password=PASSWORD))
    await users_port.logout(second.refresh_token)
    assert not await users_port.token_active(erin, token_id(first.access_token))
    assert not await users_port.token_active(erin, token_id(second.access_token))
    assert await users_port.token_active(erin, token_id(other.access_token))  # another session stays
