"""The OAuth 2.0 endpoints (/oauth: authorize, token, revoke), client management and the apps a
user authorised (/api/oauth).

Handlers translate HTTP to the users port: the consent page is a small self-contained HTML form
(no external assets, no session: the user types the password on it, so there is no cookie to
forge a request with), and its errors are HTML pages or redirects to the client; with the
out-of-band redirect URI (``urn:ietf:wg:oauth:2.0:oob``) the code is shown on a page to copy
instead. Token and revocation take form or JSON bodies (Mastodon clients send either) and answer
in the RFC 6749 JSON error form. Owners list and delete their clients under /api/oauth/clients;
users list and revoke the apps they authorised under /api/oauth/authorized-apps (first-party
tokens only).

No RFC 8414 metadata (``/.well-known/oauth-authorization-server``) is served: Mastodon.py reads
it first and then refuses any endpoint in it that is not https unless the caller passes
``allow_http``, and behind a TLS-terminating proxy the gateway cannot tell its public scheme;
without it, clients use the standard paths, which are these.
"""

from __future__ import annotations

import base64
import binascii
import html
from typing import Annotated, Any
from urllib.parse import unquote_plus, urlencode, urlsplit, urlunsplit

import jwt
import msgspec
from litestar import Controller, MediaType, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.exceptions import ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Body, PathParameter, QueryParameter

from boundaries._kernel.errors import InvalidInput
from boundaries.users.dto import (
    OOB_REDIRECT_URI,
    AuthorizationCode,
    AuthorizationPrompt,
    AuthorizationRequest,
    AuthorizedApp,
    ClientRegistration,
    Login,
    OAuthToken,
    RegisteredClient,
    RevocationRequest,
    TokenRequest,
)
from boundaries.users.errors import (
    AccountSuspended,
    InvalidCredentials,
    NotAdmin,
    OAuthAccessDenied,
    OAuthClientNotFound,
    OAuthError,
    OAuthInvalidRequest,
)
from boundaries.users.port import UsersPort
from twitterclone.gateway.auth import Principal, requires
from twitterclone.gateway.di import FromDishka, inject
from twitterclone.gateway.params import BEARER
from twitterclone.gateway.problems import answer, errors
from twitterclone.gateway.ratelimit import RateRule, charge_login_account, limited

#: Answers that carry tokens or codes are never cached (RFC 6749 §5.1).
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
#: The consent page: no scripts, no external assets, never framed (clickjacking), never cached.
PAGE_HEADERS = {
    **NO_STORE,
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
SCOPE_TEXT = {
    "read": "read your tweets, timeline, profile and notifications",
    "write": "post and delete tweets, like, retweet and change your profile",
    "follow": "follow, unfollow, block and mute accounts for you",
    "push": "receive push notifications",
    "profile": "see your profile",
}


def _scope_text(scope: str) -> str:
    """What a scope lets an app do, in words (granular ones: ``read:statuses`` -> read your statuses)."""
    if scope in SCOPE_TEXT:
        return SCOPE_TEXT[scope]
    verb, _, thing = scope.partition(":")
    return f"{'read' if verb == 'read' else 'change'} your {thing}" if thing else scope


Q = Annotated[str, QueryParameter(required=False, max_length=512)]


class OAuthErrorBody(msgspec.Struct, frozen=True, kw_only=True):
    """An OAuth 2.0 error response (RFC 6749 §5.2)."""

    error: str
    error_description: str | None = None


#: The token and revocation endpoints answer errors as RFC 6749 bodies, not problems.
OAUTH_ERRORS = {
    400: ResponseSpec(
        data_container=OAuthErrorBody,
        generate_examples=False,
        description="An OAuth error (RFC 6749 section 5.2): invalid_request, invalid_grant, "
        "unauthorized_client, unsupported_grant_type or invalid_scope",
    ),
    401: ResponseSpec(
        data_container=OAuthErrorBody,
        generate_examples=False,
        description="Client authentication failed: invalid_client (with WWW-Authenticate: Basic)",
    ),
}
#: The authorization endpoint talks to a browser: errors are pages, or redirects to the client.
AUTHORIZE_REDIRECT = answer(
    302,
    None,
    "Back to the client's redirect URI (Location) with error and error_description (RFC 6749 4.1.2.1)",
)
AUTHORIZE_ERROR_PAGE = answer(
    400,
    str,
    "An HTML page saying why the request cannot go on: unknown client, unregistered redirect URI, "
    "or malformed parameters (never redirected, as the redirect URI is in doubt)",
    MediaType.HTML,
)
ClientId = Annotated[str, PathParameter(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="An OAuth client id.")]


class AuthorizeForm(msgspec.Struct, frozen=True, kw_only=True):
    """The consent form: the authorization request echoed back, the user's credentials and choice."""

    response_type: str = ""
    client_id: str = ""
    redirect_uri: str = ""
    scope: str = ""
    state: str = ""
    code_challenge: str = ""
    code_challenge_method: str = ""
    login: str = ""
    password: str = ""
    consent: str = ""


class TokenForm(msgspec.Struct, frozen=True, kw_only=True):
    """A token request form (RFC 6749 §4); unknown parameters are ignored, as the RFC asks."""

    grant_type: str = ""
    client_id: str | None = None
    client_secret: str | None = None
    code: str | None = None
    redirect_uri: str | None = None
    code_verifier: str | None = None
    refresh_token: str | None = None
    scope: str | None = None
    username: str | None = None
    password: str | None = None


class RevokeForm(msgspec.Struct, frozen=True, kw_only=True):
    """A revocation request form (RFC 7009 §2.1)."""

    token: str = ""
    token_type_hint: str | None = None
    client_id: str | None = None
    client_secret: str | None = None


def oauth_error_response(exc: OAuthError) -> Response[OAuthErrorBody]:
    headers = dict(NO_STORE)
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="twitterclone"'
    return Response(
        OAuthErrorBody(error=exc.error, error_description=exc.detail),
        status_code=exc.status,
        media_type=MediaType.JSON,
        headers=headers,
    )


def _oauth_error_handler(_: Request[Any, Any, Any], exc: OAuthError) -> Response[OAuthErrorBody]:
    return oauth_error_response(exc)


def _authorize_error_handler(_: Request[Any, Any, Any], exc: Exception) -> Response[str]:
    """Malformed authorization requests: an error page for the user, never a redirect."""
    if isinstance(exc, OAuthError):
        return _error_page(exc)
    return _error_page(OAuthInvalidRequest("the authorization request's parameters are not valid"))


#: Handler-level: the authorization endpoint answers the browser with pages, not JSON.
AUTHORIZE_ERROR_HANDLERS: dict[type[Exception] | int, Any] = {
    OAuthError: _authorize_error_handler,
    ValidationException: _authorize_error_handler,
}


def _invalid_form_handler(_: Request[Any, Any, Any], exc: ValidationException) -> Response[OAuthErrorBody]:
    return oauth_error_response(OAuthInvalidRequest("the request parameters are not valid"))


def _client_auth(
    request: Request[Any, Any, Any], client_id: str | None, secret: str | None
) -> tuple[str | None, str | None]:
    """Client credentials from HTTP Basic (RFC 6749 §2.3.1) or the form, never both."""
    header = request.headers.get("authorization")
    if not header:
        return client_id, secret
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        # Mastodon clients send their access token on every request, this one too: it is not
        # client authentication, and the form's credentials (if any) decide.
        return client_id, secret
    if scheme.lower() != "basic":
        raise OAuthInvalidRequest("client authentication uses HTTP Basic or the form, nothing else")
    if secret:
        raise OAuthInvalidRequest("use one client authentication method, not two")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise OAuthInvalidRequest("the Basic credentials are malformed") from exc
    basic_id, sep, basic_secret = decoded.partition(":")
    if not sep:
        raise OAuthInvalidRequest("the Basic credentials are malformed")
    basic_id = unquote_plus(basic_id)
    if client_id and client_id != basic_id:
        raise OAuthInvalidRequest("client_id differs from the authenticated client")
    return basic_id, unquote_plus(basic_secret)


async def _body_fields(request: Request[Any, Any, Any], form: Any) -> dict[str, Any]:
    """The parameters of a token or revocation request: the form Litestar parsed, or the JSON body
    (Mastodon clients send either). One parse, which the login throttle then charges from."""
    if request.content_type[0] != "application/json":
        return dict(msgspec.structs.asdict(form))
    try:
        body = await request.json()
    except Exception as exc:
        raise OAuthInvalidRequest("the JSON body cannot be read") from exc
    if not isinstance(body, dict):
        raise OAuthInvalidRequest("the JSON body is an object of parameters")
    known = msgspec.structs.asdict(type(form)())
    fields = {k: v for k, v in body.items() if k in known and v is not None}
    if any(not isinstance(v, str) for v in fields.values()):
        raise OAuthInvalidRequest("the request parameters are strings")
    return {**known, **fields}


def _convert(data: dict[str, Any], kind: type[Any]) -> Any:
    try:
        return msgspec.convert(data, kind)
    except msgspec.ValidationError as exc:
        raise OAuthInvalidRequest(f"the request parameters are not valid: {exc}") from exc


def _unverified_subject(token: str) -> str | None:
    """The ``sub`` of a JWT without checking it: only used to drop a cache entry early."""
    try:
        sub = jwt.decode(token, options={"verify_signature": False}).get("sub")
    except jwt.PyJWTError:
        return None
    return sub if isinstance(sub, str) else None


def _with_query(uri: str, params: dict[str, str]) -> str:
    parts = urlsplit(uri)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def _redirect(uri: str, params: dict[str, str]) -> Response[None]:
    return Response(None, status_code=302, headers={**NO_STORE, "Location": _with_query(uri, params)})


def _error_redirect(uri: str, exc: OAuthError, state: str) -> Response[None]:
    params = {"error": exc.error, "error_description": exc.detail}
    if state:
        params["state"] = state
    return _redirect(uri, params)


def _page(title: str, body: str, status: int = 200) -> Response[str]:
    esc = html.escape
    document = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{esc(title)} · twitterclone</title><style>"
        "body{font-family:system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem;color:#222}"
        "label{display:block;margin:.8rem 0 .2rem}input[type=text],input[type=password]{width:100%;"
        "padding:.5rem;box-sizing:border-box}button{margin:1rem .5rem 0 0;padding:.5rem 1rem}"
        ".error{color:#a00}.muted{color:#666;font-size:.9rem}"
        f"</style></head><body>{body}</body></html>"
    )
    return Response(document, status_code=status, media_type=MediaType.HTML, headers=PAGE_HEADERS)


def _consent_page(
    request: AuthorizationRequest, prompt: AuthorizationPrompt, error: str = "", status: int = 200
) -> Response[str]:
    esc = html.escape
    hidden = "".join(
        f"<input type='hidden' name='{name}' value='{esc(value, quote=True)}'>"
        for name, value in msgspec.structs.asdict(request).items()
    )
    scopes = "".join(f"<li>{esc(_scope_text(s))}</li>" for s in prompt.scopes)
    if prompt.redirect_uri == OOB_REDIRECT_URI:
        where = "You will get a code to copy into the app."
    else:
        where = (
            f"You will be sent back to {esc(urlsplit(prompt.redirect_uri).netloc or prompt.redirect_uri)}."
        )
    message = f"<p class='error' role='alert'>{esc(error)}</p>" if error else ""
    body = (
        f"<h1>Authorize {esc(prompt.client_name)}</h1>"
        f"<p><strong>{esc(prompt.client_name)}</strong> wants to:</p><ul>{scopes}</ul>"
        f"<p class='muted'>{where}</p>{message}"
        "<form method='post' action='/oauth/authorize'>"
        f"{hidden}"
        "<label for='login'>Handle or email</label>"
        "<input type='text' id='login' name='login' autocomplete='username' required>"
        "<label for='password'>Password</label>"
        "<input type='password' id='password' name='password' autocomplete='current-password' required>"
        "<button type='submit' name='consent' value='allow'>Allow</button>"
        "<button type='submit' name='consent' value='deny' formnovalidate>Deny</button>"
        "</form>"
    )
    return _page(f"Authorize {prompt.client_name}", body, status)


def _error_page(exc: OAuthError) -> Response[str]:
    body = f"<h1>This authorization request cannot go on</h1><p class='error'>{html.escape(exc.detail)}</p>"
    return _page("Authorization error", body, 400)


def _code_page(code: AuthorizationCode, client_name: str) -> Response[str]:
    """The out-of-band answer: the code, for the user to copy into the app."""
    esc = html.escape
    body = (
        f"<h1>Authorization code</h1><p>Copy this code into {esc(client_name)}:</p>"
        f"<p><input type='text' readonly aria-label='Authorization code' value='{esc(code.code, quote=True)}'"
        " style='width:100%;font-family:monospace;padding:.5rem;box-sizing:border-box'></p>"
        f"<p class='muted'>It works once, within {code.expires_in} seconds.</p>"
    )
    return _page("Authorization code", body)


def _to_client(redirect_uri: str, exc: OAuthError, state: str) -> Response[Any]:
    """An authorization error for the client: a redirect, or a page when the code would be shown."""
    if redirect_uri == OOB_REDIRECT_URI or not redirect_uri:
        return _error_page(exc)
    return _error_redirect(redirect_uri, exc, state)


class OAuthController(Controller):
    """The authorization server's endpoints: authorize (login and consent), token, revoke."""

    path = "/oauth"
    tags = ["oauth"]
    exception_handlers = {OAuthError: _oauth_error_handler, ValidationException: _invalid_form_handler}

    @get(
        "/authorize",
        operation_id="oauthAuthorizePage",
        summary="The login and consent page of the authorization code flow (PKCE S256 required)",
        media_type=MediaType.HTML,
        responses=AUTHORIZE_REDIRECT | AUTHORIZE_ERROR_PAGE,
        exception_handlers=AUTHORIZE_ERROR_HANDLERS,
    )
    @inject
    async def authorize_page(
        self,
        users: FromDishka[UsersPort],
        response_type: Q = "",
        client_id: Q = "",
        redirect_uri: Q = "",
        oauth_scope: Annotated[str, QueryParameter(name="scope", required=False, max_length=512)] = "",
        oauth_state: Annotated[str, QueryParameter(name="state", required=False, max_length=512)] = "",
        code_challenge: Q = "",
        code_challenge_method: Q = "",
    ) -> Response[Any]:
        request = AuthorizationRequest(
            response_type=response_type,
            client_id=client_id,
            redirect_uri=redirect_uri,
            scope=oauth_scope,
            state=oauth_state,
            code_challenge=code_challenge,
            code_challenge_method=code_challenge_method,
        )
        try:
            prompt = await users.authorization_prompt(request)
        except OAuthError as exc:
            return _to_client(redirect_uri, exc, oauth_state) if exc.redirectable else _error_page(exc)
        return _consent_page(request, prompt)

    @post(
        "/authorize",
        operation_id="oauthAuthorize",
        summary="Log in and consent (or deny); redirects to the client with a code or an error",
        status_code=302,
        responses=AUTHORIZE_ERROR_PAGE
        | answer(
            200,
            str,
            "With the out-of-band redirect URI (urn:ietf:wg:oauth:2.0:oob): a page showing the code to copy",
            MediaType.HTML,
        )
        | answer(401, str, "The consent page again: the login or the password is wrong", MediaType.HTML)
        | answer(403, str, "The consent page again: the account is suspended", MediaType.HTML),
        exception_handlers=AUTHORIZE_ERROR_HANDLERS,
        opt=limited(RateRule.LOGIN),
    )
    @inject
    async def authorize(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[AuthorizeForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
        users: FromDishka[UsersPort],
    ) -> Response[Any]:
        fields = msgspec.structs.asdict(data)
        asked = _convert(
            {k: fields[k] for k in msgspec.structs.asdict(AuthorizationRequest())}, AuthorizationRequest
        )
        try:
            prompt = await users.authorization_prompt(asked)
        except OAuthError as exc:
            return _to_client(asked.redirect_uri, exc, asked.state) if exc.redirectable else _error_page(exc)
        if data.consent != "allow":
            return _to_client(
                prompt.redirect_uri, OAuthAccessDenied("the user denied the request"), asked.state
            )
        if not data.login or not data.password or len(data.login) > 254 or len(data.password) > 1024:
            return _consent_page(asked, prompt, "Enter your handle or email and your password.", 400)
        await charge_login_account(request, data.login)  # before the password costs a hash
        try:
            code = await users.approve_authorization(asked, Login(login=data.login, password=data.password))
        except InvalidCredentials:
            return _consent_page(asked, prompt, "The login or the password is wrong.", 401)
        except AccountSuspended:
            return _consent_page(asked, prompt, "This account is suspended.", 403)
        except OAuthError as exc:
            return _to_client(prompt.redirect_uri, exc, asked.state)
        if code.redirect_uri == OOB_REDIRECT_URI:
            return _code_page(code, prompt.client_name)
        params = {"code": code.code}
        if code.state:
            params["state"] = code.state
        return _redirect(code.redirect_uri, params)

    @post(
        "/token",
        operation_id="oauthToken",
        summary="Exchange a grant for tokens (code, refresh token, client credentials, password)",
        status_code=200,
        responses=OAUTH_ERRORS,
        opt=limited(RateRule.TOKEN),
    )
    @inject
    async def token(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[TokenForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
        users: FromDishka[UsersPort],
    ) -> Response[OAuthToken]:
        fields = await _body_fields(request, data)
        if fields["username"]:  # the password grant: the account's login budget, before any hash
            await charge_login_account(request, fields["username"])
        client_id, secret = _client_auth(request, fields["client_id"], fields["client_secret"])
        token = await users.exchange_token(
            _convert({**fields, "client_id": client_id, "client_secret": secret}, TokenRequest)
        )
        return Response(token, status_code=200, headers=NO_STORE)

    @post(
        "/revoke",
        operation_id="oauthRevoke",
        summary="Revoke a refresh or access token (RFC 7009)",
        status_code=200,
        responses=OAUTH_ERRORS,
    )
    @inject
    async def revoke(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[RevokeForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
        users: FromDishka[UsersPort],
    ) -> Response[dict[str, str]]:
        fields = await _body_fields(request, data)
        client_id, secret = _client_auth(request, fields["client_id"], fields["client_secret"])
        await users.revoke_token(
            _convert({**fields, "client_id": client_id, "client_secret": secret}, RevocationRequest)
        )
        # A revoked access token must fail at once in this process, not after the status cache.
        subject = _unverified_subject(fields["token"])
        if subject is not None:
            request.app.state.token_verifier.forget(subject)
        return Response({}, status_code=200, headers=NO_STORE)  # an empty object, as Mastodon answers


class OAuthClientsController(Controller):
    """Registering, listing and deleting one's OAuth clients (first-party tokens only).

    Another user's client answers 404 like an unknown one, so ids cannot be probed; a secret is
    shown only in the answer to the registration.
    """

    path = "/oauth/clients"
    tags = ["oauth"]

    @post(
        "/",
        operation_id="registerOAuthClient",
        summary="Register an OAuth client; its secret is shown only in this answer",
        status_code=201,
        security=BEARER,
        guards=[requires("write", first_party=True)],
        # 403: a suspended account, or the password grant asked for by a non-administrator.
        responses=errors(InvalidInput, AccountSuspended, NotAdmin),
    )
    @inject
    async def register(
        self,
        data: Annotated[ClientRegistration, Body()],
        user: NamedDependency[Principal],
        users: FromDishka[UsersPort],
    ) -> Response[RegisteredClient]:
        client = await users.register_client(user.user_id, data)
        return Response(client, status_code=201, headers=NO_STORE)

    @get(
        "/",
        operation_id="listOAuthClients",
        summary="One's registered OAuth clients, newest first (never their secrets)",
        security=BEARER,
        guards=[requires("read", first_party=True)],
    )
    @inject
    async def list_clients(
        self, user: NamedDependency[Principal], users: FromDishka[UsersPort]
    ) -> list[RegisteredClient]:
        return await users.list_clients(user.user_id)

    @delete(
        "/{client_id:str}",
        operation_id="deleteOAuthClient",
        summary="Delete one's OAuth client: its refresh tokens, codes and access tokens stop working",
        description=(
            "Revokes every refresh token and unused authorization code of the client and denies "
            "its unexpired access tokens, at once in this process and within "
            "`TWITTERCLONE_ACCESS_STATUS_CACHE_S` everywhere else. Deleting a deleted client of "
            "one's own succeeds again; another user's client is not found (404)."
        ),
        security=BEARER,
        guards=[requires("write", first_party=True)],
        responses=errors(OAuthClientNotFound),
    )
    @inject
    async def delete_client(
        self,
        request: Request[Any, Any, Any],
        client_id: ClientId,
        user: NamedDependency[Principal],
        users: FromDishka[UsersPort],
    ) -> None:
        await users.delete_client(user.user_id, client_id)
        # The client's tokens may belong to many users: drop every cached token status here.
        request.app.state.token_verifier.forget()


class AuthorizedAppsController(Controller):
    """The apps a user let act for them: list them, take one back (first-party tokens only)."""

    path = "/oauth/authorized-apps"
    tags = ["oauth"]

    @get(
        "/",
        operation_id="listAuthorizedApps",
        summary="The apps one authorised and has not revoked: name, website, scopes, since and last used",
        security=BEARER,
        guards=[requires("read", first_party=True)],
    )
    @inject
    async def list_apps(
        self, user: NamedDependency[Principal], users: FromDishka[UsersPort]
    ) -> list[AuthorizedApp]:
        return await users.authorized_apps(user.user_id)

    @delete(
        "/{client_id:str}",
        operation_id="revokeAuthorizedApp",
        summary="Take back an app's access: its tokens for one's account stop working at once",
        description=(
            "Revokes the app's refresh tokens and unused codes for one's account and denies its "
            "unexpired access tokens, at once in this process and within "
            "`TWITTERCLONE_ACCESS_STATUS_CACHE_S` everywhere else. The app may ask again later. "
            "Revoking a revoked app succeeds again; an app one never authorised is not found (404)."
        ),
        security=BEARER,
        guards=[requires("write", first_party=True)],
        responses=errors(OAuthClientNotFound),
    )
    @inject
    async def revoke_app(
        self,
        request: Request[Any, Any, Any],
        client_id: ClientId,
        user: NamedDependency[Principal],
        users: FromDishka[UsersPort],
    ) -> None:
        await users.revoke_authorized_app(user.user_id, client_id)
        request.app.state.token_verifier.forget(user.user_id)
