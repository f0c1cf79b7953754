"""Apps (/api/v1/apps) and sign-up (POST /api/v1/accounts) over the users port's OAuth server.

Registering an app needs no account (Mastodon's flow: register, then authorise); the users
module checks redirect URIs and scopes. Signing up needs an app's client-credentials token
(``write:accounts``); the new account gets a token of the app token's scopes, issued to that app.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency

from boundaries._kernel.ids import is_id
from boundaries.users.dto import AppRegistration, Register, RegisteredClient
from boundaries.users.port import UsersPort
from twitterclone.gateway.auth import InvalidToken, Principal, UserTokenRequired
from twitterclone.gateway.di import FromDishka, inject
from twitterclone.gateway.mastodon import entities as m
from twitterclone.gateway.mastodon.body import BadParams, body_operation, convert, raw_params
from twitterclone.gateway.mastodon.deps import TAG, may_answer
from twitterclone.gateway.mastodon.scopes import scope
from twitterclone.gateway.params import BEARER
from twitterclone.gateway.ratelimit import RateRule, limited

#: Answers that carry credentials are never cached.
NO_STORE = {"Cache-Control": "no-store"}


class AppForm(msgspec.Struct, frozen=True, kw_only=True):
    """POST /api/v1/apps: ``redirect_uris`` as one string (newline or space separated) or a list."""

    client_name: Annotated[str, msgspec.Meta(max_length=100)] = ""
    redirect_uris: str | list[str] = ""
    scopes: Annotated[str, msgspec.Meta(max_length=512)] = "read"
    website: Annotated[str, msgspec.Meta(max_length=512)] | None = None


class SignUpForm(msgspec.Struct, frozen=True, kw_only=True):
    """POST /api/v1/accounts."""

    username: Annotated[str, msgspec.Meta(max_length=100)] = ""
    email: Annotated[str, msgspec.Meta(max_length=300)] = ""
    password: Annotated[str, msgspec.Meta(max_length=1024)] = ""
    agreement: bool = False
    locale: Annotated[str, msgspec.Meta(max_length=16)] = "en"
    reason: Annotated[str, msgspec.Meta(max_length=1000)] | None = None
    date_of_birth: Annotated[str, msgspec.Meta(max_length=32)] | None = None


def application(client: RegisteredClient) -> m.Application:
    return m.Application(
        id=client.client_id,
        name=client.name,
        website=client.website,
        scopes=client.scopes,
        redirect_uri="\n".join(client.redirect_uris),
        redirect_uris=client.redirect_uris,
        vapid_key="",
    )


class AppsController(Controller):
    """Registering apps, and what an app token stands for."""

    path = "/v1/apps"
    tags = [TAG]

    @post(
        "/",
        operation_id="mastodonCreateApp",
        summary="Register an app (no account needed); its secret is shown only here",
        status_code=200,
        operation_class=body_operation(AppForm),
        opt={**limited(RateRule.REGISTER), **may_answer(422)},
    )
    @inject
    async def create_app(
        self, request: Request[Any, Any, Any], users: FromDishka[UsersPort]
    ) -> Response[m.CredentialApplication]:
        form = convert(await raw_params(request), AppForm)
        uris = form.redirect_uris.split() if isinstance(form.redirect_uris, str) else form.redirect_uris
        if not form.client_name.strip():
            raise BadParams("Validation failed: Application name can't be blank")
        if not uris:
            raise BadParams("Validation failed: Redirect URI can't be blank")
        registration = convert(
            {
                "client_name": form.client_name,
                "redirect_uris": uris,
                "scopes": form.scopes,
                "website": form.website,
            },
            AppRegistration,
        )
        client = await users.register_app(registration)
        shown = application(client)
        body = m.CredentialApplication(
            **msgspec.structs.asdict(shown),
            client_id=client.client_id,
            client_secret=client.client_secret or "",
            client_secret_expires_at=0,
        )
        return Response(body, media_type="application/json", headers=NO_STORE)

    @get(
        "/verify_credentials",
        operation_id="mastodonVerifyAppCredentials",
        summary="The app the access token was issued to",
        security=BEARER,
        opt=may_answer(401, 403, 404),
    )
    @inject
    async def verify_credentials(
        self, viewer: NamedDependency[Principal | None], users: FromDishka[UsersPort]
    ) -> m.Application:
        if viewer is None:
            raise InvalidToken("The access token is invalid")
        if viewer.client_id is None:
            raise UserTokenRequired("this token was not issued to an app")
        return application(await users.describe_client(viewer.client_id))


class SignUpController(Controller):
    """Creating an account through an app."""

    path = "/v1/accounts"
    tags = [TAG]

    @post(
        "/",
        operation_id="mastodonRegisterAccount",
        summary="Sign up through an app token; answers the new account's access token",
        status_code=200,
        security=BEARER,
        guards=[scope("write:accounts")],
        operation_class=body_operation(SignUpForm),
        opt={**limited(RateRule.REGISTER), **may_answer(401, 403, 422)},
    )
    @inject
    async def register(
        self,
        request: Request[Any, Any, Any],
        viewer: NamedDependency[Principal | None],
        users: FromDishka[UsersPort],
    ) -> Response[m.Token]:
        if viewer is None:
            raise InvalidToken("This method requires an app token (client credentials)")
        if viewer.client_id is None or is_id(viewer.user_id):
            raise UserTokenRequired("sign up with an app's client-credentials token, not a user's")
        form = convert(await raw_params(request), SignUpForm)
        if not form.agreement:
            raise BadParams("Validation failed: Agreement must be accepted")
        command = convert({"handle": form.username, "email": form.email, "password": form.password}, Register)
        token = await users.register_through_client(
            viewer.client_id, " ".join(sorted(viewer.scopes)), command
        )
        body = m.Token(
            access_token=token.access_token,
            token_type=token.token_type,
            scope=token.scope,
            created_at=token.created_at or int(time.time()),
            expires_in=token.expires_in,
            refresh_token=token.refresh_token,
        )
        return Response(body, media_type="application/json", headers=NO_STORE)
