"""The web client's session, CSRF, escaping, throttling and error pages, as a browser meets them."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from tests.conftest import FAST_ARGON2, MONOLITH, migrate_all
from tests.web.conftest import Browser
from twitterclone.gateway.app import create_app
from twitterclone.manifest import load_manifest
from twitterclone.settings import Settings


def web_posts(app: Litestar) -> list[str]:
    """Every state-changing route of the web client (its POST routes), as path templates."""
    paths = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if "POST" in handler.http_methods and str(handler.name or "").startswith("web-"):
                paths.append(route.path)
    return sorted(set(paths))


def test_every_web_form_refuses_a_post_without_its_csrf_token(
    app: Litestar, browsers: Callable[[], Browser]
) -> None:
    alice, bob = browsers(), browsers()
    alice.sign_up("alice")
    bob.sign_up("bob")
    tweet_id = bob.post("bob's words").headers["location"].rsplit("/", 1)[1]
    bob_id = alice.user_id("bob")
    posts = web_posts(app)
    assert len(posts) >= 17, posts  # sign in/up/out, compose, 5 tweet actions, 6 relationships, ...
    for template in posts:
        path = template.replace("{tweet_id:str}", tweet_id).replace("{user_id:str}", bob_id)
        for data in ({}, {"csrf": "forged-token-of-the-right-length-000"}):
            r = alice.request("POST", path, data={"text": "x", "login": "bob", **data})
            assert r.status_code == 403, (path, data, r.text)
            assert "did not come from this site" in r.text, path
            assert r.headers["content-type"].startswith("text/html")
    # Nothing happened: bob's tweet stands unliked, nobody follows bob, alice still signed in.
    assert 'aria-label="Like (0)"' in alice.get(f"/tweets/{tweet_id}").text
    assert "<strong>0</strong> followers" in alice.get("/u/bob").text
    assert "Sign out" in alice.get("/").text


def test_another_sessions_token_does_not_pass(browsers: Callable[[], Browser]) -> None:
    alice, mallory = browsers(), browsers()
    alice.sign_up("alice")
    mallory.sign_up("mallory")
    r = alice.request("POST", "/compose", data={"csrf": mallory.csrf(), "text": "forged"})
    assert r.status_code == 403
    assert "forged" not in alice.get("/u/alice").text


def session_cookie(headers: list[str]) -> str:
    [cookie] = [h for h in headers if h.startswith("tc_session=")]
    return cookie


def test_session_cookie_flags_and_rotation_on_sign_in(browsers: Callable[[], Browser]) -> None:
    alice = browsers()
    first = session_cookie(alice.sign_up("alice").headers.get_list("set-cookie"))
    assert "HttpOnly" in first
    assert "SameSite=lax" in first
    assert "Secure" not in first  # plain HTTP here; see the TLS test below
    first_sid = first.split(";", 1)[0].split("=", 1)[1]

    # Signing in again (a second tab's form, with the session's token) makes a new session.
    again = alice.submit("/signin", {"login": "alice", "password": "correct horse battery"}, page="/")
    assert again.status_code == 303
    second_sid = session_cookie(again.headers.get_list("set-cookie")).split(";", 1)[0].split("=", 1)[1]
    assert second_sid != first_sid  # a new id on every sign-in (no fixation)

    stale = browsers()  # someone holding the old cookie is nobody now: its family was revoked
    stale.cookies.set("tc_session", first_sid, domain="testserver.local")
    assert "Sign in" in stale.get("/").text
    assert stale.get("/settings").status_code == 303

    assert "Sign out" in alice.get("/").text
    out = alice.submit("/signout")
    assert out.status_code == 303
    assert 'tc_session=""' in " ".join(out.headers.get_list("set-cookie"))
    replay = browsers()
    replay.cookies.set("tc_session", second_sid, domain="testserver.local")
    assert replay.get("/settings").status_code == 303


def test_a_fixed_session_id_is_never_adopted(browsers: Callable[[], Browser]) -> None:
    victim = browsers()
    victim.cookies.set("tc_session", "attacker-chose-this-session-id-000000000", domain="testserver.local")
    cookie = session_cookie(victim.sign_up("victim").headers.get_list("set-cookie"))
    assert "attacker-chose-this-session-id" not in cookie
    attacker = browsers()
    attacker.cookies.set("tc_session", "attacker-chose-this-session-id-000000000", domain="testserver.local")
    assert attacker.get("/settings").status_code == 303  # the chosen id names no session


@pytest.fixture
def tls_client(tmp_path: Path) -> Iterator[TestClient[Litestar]]:
    settings = Settings(data_dir=str(tmp_path / "data"), manifest=str(MONOLITH), **FAST_ARGON2)
    manifest = load_manifest(MONOLITH)
    import asyncio

    asyncio.run(migrate_all(manifest, settings))
    with TestClient(create_app(settings, manifest), base_url="https://testserver.local") as client:
        yield client


def test_cookies_are_secure_over_tls(tls_client: TestClient[Litestar]) -> None:
    browser = Browser(tls_client)
    form = browser.get("/signup")
    assert "Secure" in " ".join(form.headers.get_list("set-cookie"))  # the anonymous CSRF cookie
    cookie = session_cookie(browser.sign_up("alice").headers.get_list("set-cookie"))
    assert "Secure" in cookie
    assert "HttpOnly" in cookie


def test_user_content_is_escaped(browsers: Callable[[], Browser]) -> None:
    alice, bob = browsers(), browsers()
    alice.sign_up("alice", display_name='<img src=x onerror="alert(1)">')
    bob.sign_up("bob")
    alice.post('<script>alert("x")</script> & <b>bold</b>')
    alice.submit(
        "/settings/profile",
        {"display_name": "<i>it</i>", "bio": "</textarea><script>1</script>"},
        page="/settings",
    )
    for url in ("/u/alice", "/search?q=script", "/settings"):
        page = (alice if url == "/settings" else bob).get(url).text
        assert "<script>alert" not in page, url
        assert "<script>1</script>" not in page, url
        assert "<i>it</i>" not in page, url
    profile = bob.get("/u/alice").text
    # Tweet text goes through the shared linkify helper (gateway/linkify.py), which escapes <, >
    # and & of element text (quotes need no escaping there: no attribute holds tweet text).
    assert '&lt;script&gt;alert("x")&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;' in profile
    assert "&lt;/textarea&gt;&lt;script&gt;1&lt;/script&gt;" in profile
    search = bob.get("/search?q=%3Cscript%3E").text
    assert "<script>" not in search.replace('<script src="', "")


def test_bad_input_is_a_page_with_the_error_beside_the_field(browsers: Callable[[], Browser]) -> None:
    visitor = browsers()
    r = visitor.submit(
        "/signup",
        {"handle": "no spaces!", "email": "a@example.org", "password": "longenough"},
        page="/signup",
    )
    assert r.status_code == 422
    assert re.search(r'id="handle"[^>]*aria-invalid="true"[^>]*aria-describedby="handle-error"', r.text)
    assert 'id="handle-error">1 to 15 letters, digits or underscores' in r.text
    assert 'value="a@example.org"' in r.text  # what was typed is kept
    short = visitor.submit(
        "/signup", {"handle": "ok", "email": "a@example.org", "password": "short"}, page="/signup"
    )
    assert short.status_code == 422
    assert 'id="password-error">at least 8 characters' in short.text

    visitor.sign_up("alice")
    taken = browsers().submit(
        "/signup", {"handle": "alice", "email": "other@example.org", "password": "longenough"}, page="/signup"
    )
    assert taken.status_code == 422
    assert 'id="handle-error"' in taken.text

    wrong = browsers().sign_in("alice", "not the password")
    assert wrong.status_code == 401
    assert "wrong handle, email or password" in wrong.text

    too_long = visitor.post("x" * 281)
    assert too_long.status_code == 422
    assert 'id="text-error"' in too_long.text
    assert "x" * 281 in too_long.text  # the text is kept to shorten

    for url, status in (("/u/nobody", 404), ("/tweets/123", 404), ("/tweets/not-an-id", 400)):
        page = visitor.get(url)
        assert page.status_code == status, url
        assert page.headers["content-type"].startswith("text/html"), url
        assert "Traceback" not in page.text
        assert "<h1>" in page.text


def test_signing_in_is_throttled_like_the_api(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=str(tmp_path / "data"), manifest=str(MONOLITH), rate_login_address="3/60", **FAST_ARGON2
    )
    manifest = load_manifest(MONOLITH)
    import asyncio

    asyncio.run(migrate_all(manifest, settings))
    with TestClient(create_app(settings, manifest)) as client:
        browser = Browser(client)
        answers = [browser.sign_in("someone", "wrong password") for _ in range(4)]
        assert [a.status_code for a in answers] == [401, 401, 401, 429]
        assert answers[-1].headers["content-type"].startswith("text/html")  # a page, with when to retry
        assert "Slow down" in answers[-1].text
        assert int(answers[-1].headers["retry-after"]) >= 1
        # The API's login shares the address's budget: the same rule, declared on both handlers.
        assert client.post("/api/auth/login", json={"login": "x", "password": "y"}).status_code == 429


def test_posting_from_the_pages_is_charged_per_user(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=str(tmp_path / "data"), manifest=str(MONOLITH), rate_post_user="2/60", **FAST_ARGON2
    )
    manifest = load_manifest(MONOLITH)
    import asyncio

    asyncio.run(migrate_all(manifest, settings))
    with TestClient(create_app(settings, manifest)) as client:
        alice, bob = Browser(client), Browser(client)
        alice.sign_up("alice")
        bob.sign_up("bob")
        assert [alice.post(f"post {n}").status_code for n in range(3)] == [303, 303, 429]
        assert bob.post("bob's own budget").status_code == 303  # per user, not per address
