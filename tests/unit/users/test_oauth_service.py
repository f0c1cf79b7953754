"""The users module's OAuth server (through the service), against real SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
import sqlalchemy as sa
from users_testkit import PASSWORD, make_service, register

from boundaries._kernel.errors import InvalidInput
from boundaries.users.dto import (
    AuthorizationRequest,
    ClientRegistration,
    Login,
    RevocationRequest,
    TokenRequest,
)
from boundaries.users.errors import (
    InvalidCredentials,
    InvalidRefreshToken,
    NotAdmin,
    OAuthInvalidClient,
    OAuthInvalidGrant,
    OAuthInvalidRequest,
    OAuthInvalidScope,
    OAuthUnauthorizedClient,
    OAuthUnknownRedirect,
    OAuthUnsupportedGrantType,
)
from modules.users.service import UsersService
from modules.users.tables import oauth_clients, oauth_codes
from twitterclone.infra.store import ModuleStore

REDIRECT = "https://app.example/cb"


@pytest.fixture
def store(any_store: ModuleStore) -> ModuleStore:
    """The users store on SQLite and on PostgreSQL (the migration and every query run on both)."""
    return any_store


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    return verifier, base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(
        b"="
    ).decode()


def auth_request(client_id: str, challenge: str, **extra: str) -> AuthorizationRequest:
    fields = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": "read",
        "state": "st",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }
    return AuthorizationRequest(**fields)


async def code_tokens(service: UsersService, client_id: str, handle: str, secret: str | None = None) -> Any:
    verifier, challenge = pkce()
    code = await service.approve_authorization(
        auth_request(client_id, challenge), Login(login=handle, password=PASSWORD)
    )
    return await service.exchange_token(
        TokenRequest(
            grant_type="authorization_code",
            client_id=client_id,
            client_secret=secret,
            code=code.code,
            redirect_uri=REDIRECT,
            code_verifier=verifier,
        )
    )


def claims(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


# ------------------------------------------------------------------------ registration


async def test_client_secret_is_stored_only_as_sha256(service: UsersService, store: ModuleStore) -> None:
    owner = await register(service, "owner")
    client = await service.register_client(owner, ClientRegistration(name="App", redirect_uris=[REDIRECT]))
    assert client.client_secret
    async with store.read() as conn:
        row = (await conn.execute(sa.select(oauth_clients))).one()
    assert row.secret_hash == hashlib.sha256(client.client_secret.encode()).hexdigest()
    assert client.client_secret not in str(tuple(row))


@pytest.mark.parametrize(
    "registration",
    [
        ClientRegistration(name="x", redirect_uris=["http://example.com/cb"]),
        ClientRegistration(name="x", redirect_uris=[]),  # the code grant needs a redirect URI
        ClientRegistration(name="x", confidential=False, grants=["client_credentials"]),
        ClientRegistration(name="x", redirect_uris=[REDIRECT], bot_account=True),
        ClientRegistration(name="x", grants=["refresh_token"]),
    ],
)
async def test_bad_registrations_are_refused(service: UsersService, registration: ClientRegistration) -> None:
    owner = await register(service, "owner")
    with pytest.raises(InvalidInput):
        await service.register_client(owner, registration)


async def test_only_admins_register_password_grant_clients(service: UsersService) -> None:
    owner = await register(service, "owner")
    with pytest.raises(NotAdmin):
        await service.register_client(owner, ClientRegistration(name="x", grants=["password"]))
    await service.grant_admin("owner")
    client = await service.register_client(owner, ClientRegistration(name="x", grants=["password"]))
    assert client.grants == ["password"]


# ------------------------------------------------------------------ authorization codes


async def test_prompt_checks_client_redirect_scope_and_pkce(service: UsersService) -> None:
    owner = await register(service, "owner")
    client = await service.register_client(
        owner, ClientRegistration(name="App", redirect_uris=[REDIRECT], scopes=["read", "write"])
    )
    _, challenge = pkce()
    prompt = await service.authorization_prompt(auth_request(client.client_id, challenge, scope=""))
    assert (prompt.client_name, prompt.scopes) == ("App", ["read", "write"])
    with pytest.raises(OAuthUnknownRedirect) as unknown:
        await service.authorization_prompt(auth_request("nope", challenge))
    assert unknown.value.redirectable is False
    with pytest.raises(OAuthUnknownRedirect):
        await service.authorization_prompt(
            auth_request(client.client_id, challenge, redirect_uri=REDIRECT + "x")
        )
    with pytest.raises(OAuthInvalidRequest):
        await service.authorization_prompt(
            auth_request(client.client_id, challenge, code_challenge_method="plain")
        )
    with pytest.raises(OAuthInvalidRequest):
        await service.authorization_prompt(auth_request(client.client_id, "short"))
    with pytest.raises(OAuthInvalidScope):
        await service.authorization_prompt(auth_request(client.client_id, challenge, scope="read follow"))


async def test_expired_code_is_refused(service: UsersService, store: ModuleStore) -> None:
    owner = await register(service, "owner")
    client = await service.register_client(owner, ClientRegistration(name="App", redirect_uris=[REDIRECT]))
    verifier, challenge = pkce()
    code = await service.approve_authorization(
        auth_request(client.client_id, challenge), Login(login="owner", password=PASSWORD)
    )
    assert code.expires_in == 60
    async with store.transaction() as tx:
        await tx.conn.execute(
            sa.update(oauth_codes).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    with pytest.raises(OAuthInvalidGrant):
        await service.exchange_token(
            TokenRequest(
                grant_type="authorization_code",
                client_id=client.client_id,
                client_secret=client.client_secret,
                code=code.code,
                redirect_uri=REDIRECT,
                code_verifier=verifier,
            )
        )


async def test_code_is_bound_to_its_client(service: UsersService) -> None:
    owner = await register(service, "owner")
    one = await service.register_client(owner, ClientRegistration(name="1", redirect_uris=[REDIRECT]))
    two = await service.register_client(owner, ClientRegistration(name="2", redirect_uris=[REDIRECT]))
    verifier, challenge = pkce()
    code = await service.approve_authorization(
        auth_request(one.client_id, challenge), Login(login="owner", password=PASSWORD)
    )
    with pytest.raises(OAuthInvalidGrant):
        await service.exchange_token(
            TokenRequest(
                grant_type="authorization_code",
                client_id=two.client_id,
                client_secret=two.client_secret,
                code=code.code,
                redirect_uri=REDIRECT,
                code_verifier=verifier,
            )
        )


async def test_approval_needs_the_right_password(service: UsersService) -> None:
    owner = await register(service, "owner")
    client = await service.register_client(owner, ClientRegistration(name="App", redirect_uris=[REDIRECT]))
    with pytest.raises(InvalidCredentials):
        await service.approve_authorization(
            auth_request(client.client_id, pkce()[1]), Login(login="owner", password="x" * 9)
        )


async def test_code_replay_revokes_refresh_family_and_denies_the_access_token(service: UsersService) -> None:
    owner = await register(service, "owner")
    client = await service.register_client(owner, ClientRegistration(name="App", redirect_uris=[REDIRECT]))
    verifier, challenge = pkce()
    code = await service.approve_authorization(
        auth_request(client.client_id, challenge), Login(login="owner", password=PASSWORD)
    )
    request = TokenRequest(
        grant_type="authorization_code",
        client_id=client.client_id,
        client_secret=client.client_secret,
        code=code.code,
        redirect_uri=REDIRECT,
        code_verifier=verifier,
    )
    tokens = await service.exchange_token(request)
    jti = claims(tokens.access_token)["jti"]
    assert await service.token_active(owner, jti) is True
    with pytest.raises(OAuthInvalidGrant):
        await service.exchange_token(request)
    assert await service.token_active(owner, jti) is False
    with pytest.raises(OAuthInvalidGrant):
        await service.exchange_token(
            TokenRequest(
                grant_type="refresh_token",
                client_id=client.client_id,
                client_secret=client.client_secret,
                refresh_token=tokens.refresh_token,
            )
        )


# ------------------------------------------------------------------------ other grants


async def test_refresh_tokens_are_bound_to_their_client(service: UsersService) -> None:
    owner = await register(service, "owner")
    one = await service.register_client(owner, ClientRegistration(name="1", redirect_uris=[REDIRECT]))
    two = await service.register_client(owner, ClientRegistration(name="2", redirect_uris=[REDIRECT]))
    tokens = await code_tokens(service, one.client_id, "owner", one.client_secret)
    with pytest.raises(OAuthInvalidGrant):
        await service.exchange_token(
            TokenRequest(
                grant_type="refresh_token",
                client_id=two.client_id,
                client_secret=two.client_secret,
                refresh_token=tokens.refresh_token,
            )
        )
    with pytest.raises(InvalidRefreshToken):  # nor on the first-party endpoint
        await service.refresh(tokens.refresh_token)
    rotated = await service.exchange_token(
        TokenRequest(
            grant_type="refresh_token",
            client_id=one.client_id,
            client_secret=one.client_secret,
            refresh_token=tokens.refresh_token,
        )
    )
    assert claims(rotated.access_token)["client_id"] == one.client_id
    assert rotated.scope == "read"


async def test_client_credentials_subjects(service: UsersService) -> None:
    owner = await register(service, "owner")
    svc = await service.register_client(
        owner, ClientRegistration(name="svc", grants=["client_credentials"], scopes=["read", "write"])
    )
    bot = await service.register_client(
        owner, ClientRegistration(name="bot", grants=["client_credentials"], bot_account=True)
    )
    svc_token = await service.exchange_token(
        TokenRequest(
            grant_type="client_credentials",
            client_id=svc.client_id,
            client_secret=svc.client_secret,
            scope="read",
        )
    )
    assert claims(svc_token.access_token)["sub"] == f"client:{svc.client_id}"
    assert svc_token.scope == "read"
    assert svc_token.refresh_token is None
    bot_token = await service.exchange_token(
        TokenRequest(
            grant_type="client_credentials", client_id=bot.client_id, client_secret=bot.client_secret
        )
    )
    assert claims(bot_token.access_token)["sub"] == owner
    with pytest.raises(OAuthInvalidClient):
        await service.exchange_token(
            TokenRequest(
                grant_type="client_credentials", client_id=bot.client_id, client_secret=svc.client_secret
            )
        )
    with pytest.raises(OAuthUnauthorizedClient):
        await service.exchange_token(
            TokenRequest(grant_type="password", client_id=svc.client_id, client_secret=svc.client_secret)
        )


async def test_password_grant_setting(store: ModuleStore) -> None:
    on, off = make_service(store), make_service(store, oauth_password_grant=False)
    owner = await register(on, "owner")
    await on.grant_admin("owner")
    client = await on.register_client(owner, ClientRegistration(name="cli", grants=["password"]))
    request = TokenRequest(
        grant_type="password",
        client_id=client.client_id,
        client_secret=client.client_secret,
        username="owner",
        password=PASSWORD,
    )
    assert (await on.exchange_token(request)).scope == "read"
    with pytest.raises(OAuthUnsupportedGrantType):
        await off.exchange_token(request)


# -------------------------------------------------------------------------- revocation


async def test_revoking_an_access_token_denies_it_until_it_expires(service: UsersService) -> None:
    uid = await register(service, "owner")
    pair = await service.authenticate(Login(login="owner", password=PASSWORD))
    jti = claims(pair.access_token)["jti"]
    await service.revoke_token(RevocationRequest(token=pair.access_token, token_type_hint="access_token"))
    assert await service.token_active(uid, jti) is False
    assert await service.token_active(uid, "another-jti") is True
    await service.revoke_token(RevocationRequest(token="garbage"))  # unknown: no error


async def test_revoking_a_refresh_token_revokes_its_family(service: UsersService) -> None:
    await register(service, "owner")
    pair = await service.authenticate(Login(login="owner", password=PASSWORD))
    rotated = await service.refresh(pair.refresh_token)
    await service.revoke_token(RevocationRequest(token=rotated.refresh_token))
    with pytest.raises(InvalidRefreshToken):
        await service.refresh(rotated.refresh_token)
