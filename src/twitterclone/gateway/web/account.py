"""Web pages for signing up, in and out, and the settings of one's account.

Signing in and up carry the same rate rules as ``/api/auth/login`` and ``/api/auth/register``
(per address on the handler, per account through ``charge_login_account`` before any hash).
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import PathParameter, QueryParameter
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template

from boundaries._kernel.errors import DomainError
from boundaries.media.dto import Upload
from boundaries.media.port import MediaPort
from boundaries.users.dto import Login, PasswordChange, ProfileUpdate, Register
from boundaries.users.errors import (
    AccountSuspended,
    EmailTaken,
    HandleTaken,
    InvalidCredentials,
    WrongPassword,
)
from boundaries.users.port import UsersPort
from twitterclone.gateway.di import FromDishka, inject
from twitterclone.gateway.ratelimit import RateRule, charge_login_account, limited
from twitterclone.gateway.routes.media import upload_body_limit
from twitterclone.gateway.web.common import field_errors, read_form
from twitterclone.gateway.web.render import page, safe_next
from twitterclone.gateway.web.session import WebSession, sign_in, sign_out

NextPath = Annotated[str | None, QueryParameter(name="next", max_length=500, required=False)]


class AccountPages(Controller):
    """Sign up, sign in, sign out, settings."""

    path = "/"
    include_in_schema = False

    @get("/signin", name="web-signin")
    async def signin_form(
        self, request: HTMXRequest, web: NamedDependency[WebSession | None], next_path: NextPath = None
    ) -> Template | Redirect:
        if web is not None:
            return Redirect(safe_next(next_path), status_code=303)
        return page(request, None, "signin.html", next=safe_next(next_path), errors={}, values={})

    @post("/signin", name="web-signin-post", opt=limited(RateRule.LOGIN))
    @inject
    async def signin(
        self, request: HTMXRequest, web: NamedDependency[WebSession | None], users: FromDishka[UsersPort]
    ) -> Template | Redirect:
        form = await read_form(request, web)
        values = {"login": form.text("login")}
        next_path = safe_next(form.text("next"))
        try:
            login = msgspec.convert(
                {"login": values["login"], "password": form.text("password", strip=False)}, Login
            )
        except msgspec.ValidationError:
            errors = {"form": "enter your handle or email and your password"}
            return page(
                request, None, "signin.html", status=422, next=next_path, errors=errors, values=values
            )
        await charge_login_account(request, login.login)  # before the password costs a hash
        try:
            pair = await users.authenticate(login)
        except (InvalidCredentials, AccountSuspended) as exc:
            errors = {
                "form": exc.detail if isinstance(exc, AccountSuspended) else "wrong handle, email or password"
            }
            return page(
                request, None, "signin.html", status=401, next=next_path, errors=errors, values=values
            )
        profile = await users.profile(pair.user_id)
        cookies = await sign_in(request, pair, profile.handle)
        return Redirect(next_path, status_code=303, cookies=cookies)

    @get("/signup", name="web-signup")
    async def signup_form(
        self, request: HTMXRequest, web: NamedDependency[WebSession | None]
    ) -> Template | Redirect:
        if web is not None:
            return Redirect("/", status_code=303)
        return page(request, None, "signup.html", errors={}, values={})

    @post("/signup", name="web-signup-post", opt=limited(RateRule.REGISTER))
    @inject
    async def signup(
        self, request: HTMXRequest, web: NamedDependency[WebSession | None], users: FromDishka[UsersPort]
    ) -> Template | Redirect:
        form = await read_form(request, web)
        values = {k: form.text(k) for k in ("handle", "email", "display_name")}
        password = form.text("password", strip=False)
        errors: dict[str, str] = {}
        try:
            account = await users.register(msgspec.convert({**values, "password": password}, Register))
        except msgspec.ValidationError as exc:
            errors = field_errors(exc)
        except HandleTaken as exc:
            errors = {"handle": exc.detail}
        except EmailTaken as exc:
            errors = {"email": exc.detail}
        except DomainError as exc:
            if exc.status >= 500 or exc.status == 429:
                raise
            errors = {exc.field or "form": exc.detail}
        if errors:
            return page(request, None, "signup.html", status=422, errors=errors, values=values)
        pair = await users.authenticate(Login(login=account.profile.handle, password=password))
        cookies = await sign_in(request, pair, account.profile.handle)
        return Redirect("/", status_code=303, cookies=cookies)

    @post("/signout", name="web-signout")
    async def signout(self, request: HTMXRequest, web: NamedDependency[WebSession | None]) -> Redirect:
        await read_form(request, web)
        cookies = await sign_out(request)
        return Redirect("/", status_code=303, cookies=cookies)

    @get("/settings", name="web-settings")
    @inject
    async def settings(
        self, request: HTMXRequest, me: NamedDependency[WebSession], users: FromDishka[UsersPort]
    ) -> Template:
        return await _settings_page(request, me, users)

    @post(
        "/settings/avatar",
        name="web-settings-avatar",
        guards=[upload_body_limit],
        request_max_body_size=None,  # the guard enforces the upload's own limit
    )
    @inject
    async def change_avatar(
        self,
        request: HTMXRequest,
        me: NamedDependency[WebSession],
        users: FromDishka[UsersPort],
        media: FromDishka[MediaPort],
    ) -> Template:
        form = await read_form(request, me)
        image = form.file("avatar")
        try:
            if form.text("remove"):
                await users.update_profile(me.user_id, ProfileUpdate(avatar_id=""))
            elif image is None:
                return await _settings_page(request, me, users, 422, {"avatar": "choose an image to upload"})
            else:
                uploaded = await media.upload(
                    Upload(owner_id=me.user_id, filename=image.filename, data=await image.read())
                )
                await users.update_profile(me.user_id, ProfileUpdate(avatar_id=uploaded.id))
        except DomainError as exc:
            if exc.status >= 500 or exc.status == 429:
                raise
            return await _settings_page(request, me, users, 422, {"avatar": exc.detail})
        return await _settings_page(request, me, users, saved="avatar")

    @post("/settings/password", name="web-settings-password", opt=limited(RateRule.LOGIN))
    @inject
    async def change_password(
        self, request: HTMXRequest, me: NamedDependency[WebSession], users: FromDishka[UsersPort]
    ) -> Template | Redirect:
        form = await read_form(request, me)
        try:
            change = msgspec.convert(
                {
                    "current_password": form.text("current_password", strip=False),
                    "new_password": form.text("new_password", strip=False),
                },
                PasswordChange,
            )
        except msgspec.ValidationError as exc:
            field = "current_password" if "current_password" in str(exc) else "new_password"
            hint = "enter your current password" if field == "current_password" else "at least 8 characters"
            return await _settings_page(request, me, users, 422, {field: hint})
        await charge_login_account(request, me.user_id)  # a password check, budgeted as the API's is
        try:
            pair = await users.change_password(me.user_id, change)
        except WrongPassword:
            return await _settings_page(
                request, me, users, 422, {"current_password": "that is not your password"}
            )
        # Every other session of the account ended; this browser goes on with the new one.
        cookies = await sign_in(request, pair, me.handle)
        return Redirect("/settings?saved=password", status_code=303, cookies=cookies)

    @post("/settings/apps/{client_id:str}/revoke", name="web-settings-revoke-app")
    @inject
    async def revoke_app(
        self,
        request: HTMXRequest,
        client_id: Annotated[str, PathParameter(max_length=128)],
        me: NamedDependency[WebSession],
        users: FromDishka[UsersPort],
    ) -> Template:
        await read_form(request, me)
        await users.revoke_authorized_app(me.user_id, client_id)
        return await _settings_page(request, me, users, saved="apps")

    @post("/settings/profile", name="web-settings-profile")
    @inject
    async def update_profile(
        self, request: HTMXRequest, me: NamedDependency[WebSession], users: FromDishka[UsersPort]
    ) -> Template:
        form = await read_form(request, me)
        values = {"display_name": form.text("display_name"), "bio": form.text("bio")}
        try:
            await users.update_profile(me.user_id, msgspec.convert(values, ProfileUpdate))
        except msgspec.ValidationError as exc:
            return await _settings_page(request, me, users, 422, field_errors(exc), values=values)
        return await _settings_page(request, me, users, saved="profile")


async def _settings_page(
    request: HTMXRequest,
    me: WebSession,
    users: UsersPort,
    status: int = 200,
    errors: dict[str, str] | None = None,
    *,
    values: dict[str, str] | None = None,
    saved: str | None = None,
) -> Template:
    account = await users.account(me.user_id)
    apps = await users.authorized_apps(me.user_id)
    return page(
        request,
        me,
        "settings.html",
        status=status,
        account=account,
        apps=apps,
        errors=errors or {},
        values=values or {},
        saved=saved or request.query_params.get("saved"),
    )
