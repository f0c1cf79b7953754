"""Every web page renders signed out and signed in; actions work as forms without JavaScript."""

from __future__ import annotations

import re
from collections.abc import Callable

from tests.api.oauth_support import bearer, code_flow, register_client
from tests.conftest import Api
from tests.support.images import expanding_png
from tests.web.conftest import Browser

PUBLIC_PAGES = ["/", "/signin", "/signup", "/search", "/search?q=hello", "/search?q=%23tag"]
SIGNED_IN_ONLY = ["/compose", "/notifications", "/settings"]


def tweet_ids(html: str) -> list[str]:
    return re.findall(r'<article class="tweet[^"]*" id="t(\d+)"', html)


def test_public_pages_render_signed_out_with_a_csp_forbidding_inline_scripts(
    browsers: Callable[[], Browser],
) -> None:
    alice = browsers()
    alice.sign_up("alice")
    tweet = alice.post("hello #tag world")
    tweet_url = tweet.headers["location"]
    visitor = browsers()
    for url in [*PUBLIC_PAGES, "/u/alice", "/u/alice/followers", "/u/alice/following", tweet_url]:
        r = visitor.get(url)
        assert r.status_code == 200, (url, r.text)
        assert r.headers["content-type"].startswith("text/html")
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert "<script>" not in r.text  # scripts only from files: <script src=...>
        assert "Sign in" in r.text
    linked = 'hello <a href="/search?q=%23tag" class="hashtag" rel="tag">#tag</a> world'
    assert linked in visitor.get("/search?q=hello").text
    assert linked in visitor.get(tweet_url).text


def test_signed_in_only_pages_send_visitors_to_sign_in_and_back(browsers: Callable[[], Browser]) -> None:
    visitor = browsers()
    for url in SIGNED_IN_ONLY:
        r = visitor.get(url)
        assert r.status_code == 303, url
        assert r.headers["location"] == "/signin?next=" + url.replace("/", "%2F")
    visitor.sign_up("carol")  # an account exists; sign out, then sign in through the redirect
    visitor.submit("/signout")
    r = visitor.submit(
        "/signin",
        {"login": "carol", "password": "correct horse battery", "next": "/settings"},
        page="/signin?next=%2Fsettings",
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/settings"
    assert "Save profile" in visitor.get("/settings").text


def test_every_page_renders_signed_in(browsers: Callable[[], Browser]) -> None:
    alice, bob = browsers(), browsers()
    alice.sign_up("alice")
    bob.sign_up("bob")
    tweet_url = bob.post("a tweet by bob").headers["location"]
    pages = [p for p in PUBLIC_PAGES if p not in ("/signin", "/signup")]
    for url in [*pages, *SIGNED_IN_ONLY, "/u/alice", "/u/bob", "/u/bob/followers", tweet_url]:
        r = alice.get(url)
        assert r.status_code == 200, (url, r.text)
        assert "Sign out" in r.text, url
    for url in ("/signin", "/signup"):  # already signed in: home
        assert alice.get(url).headers["location"] == "/"
    tweet_id = tweet_url.rsplit("/", 1)[1]
    assert "a tweet by bob" in alice.get(f"/compose?reply_to={tweet_id}").text
    assert "a tweet by bob" in alice.get(f"/compose?quote={tweet_id}").text


def test_follow_post_like_retweet_reply_quote_delete_as_plain_forms(browsers: Callable[[], Browser]) -> None:
    alice, bob = browsers(), browsers()
    alice.sign_up("alice")
    bob.sign_up("bob", display_name="Bob B")
    bob_id = alice.user_id("bob")

    r = alice.submit(f"/users/{bob_id}/follow", {"next": "/u/bob"}, page="/u/bob")
    assert r.status_code == 303
    assert r.headers["location"] == "/u/bob"
    profile = alice.get("/u/bob").text
    assert "Unfollow" in profile
    assert "<strong>1</strong> followers" in profile
    assert "alice" in bob.get("/u/bob/followers").text

    posted = bob.post("first words from bob")
    tweet_id = posted.headers["location"].rsplit("/", 1)[1]
    assert tweet_id in tweet_ids(alice.get("/").text)  # fanned out to alice's home

    assert alice.submit(f"/tweets/{tweet_id}/like", {"next": "/"}).status_code == 303
    assert alice.submit(f"/tweets/{tweet_id}/retweet", {"next": "/"}).status_code == 303
    page = alice.get(f"/tweets/{tweet_id}").text
    assert 'aria-label="Unlike (1)"' in page
    assert 'aria-label="Undo retweet (1)"' in page

    reply = alice.post("a reply from alice", reply_to=tweet_id, next=f"/tweets/{tweet_id}")
    assert reply.headers["location"] == f"/tweets/{tweet_id}"
    assert "a reply from alice" in alice.get(f"/tweets/{tweet_id}").text
    quote = alice.post("quoting bob", quote_of=tweet_id)
    quote_page = alice.get(quote.headers["location"]).text
    assert "quoting bob" in quote_page
    assert "first words from bob" in quote_page

    assert alice.submit(f"/tweets/{tweet_id}/unlike", {"next": "/"}).status_code == 303
    assert 'aria-label="Like (0)"' in alice.get(f"/tweets/{tweet_id}").text

    gone = bob.submit(f"/tweets/{tweet_id}/delete", {"next": f"/tweets/{tweet_id}"}, page="/u/bob")
    assert gone.status_code == 303
    assert gone.headers["location"] == "/"
    assert alice.get(f"/tweets/{tweet_id}").status_code == 404

    for action in ("mute", "unmute", "block"):
        assert alice.submit(f"/users/{bob_id}/{action}", {"next": "/u/bob"}, page="/u/bob").status_code == 303
    assert "Unblock" in alice.get("/u/bob").text


def test_compose_with_an_image_shows_it(browsers: Callable[[], Browser], api: Api) -> None:
    alice = browsers()
    alice.sign_up("alice")
    r = alice.request(
        "POST",
        "/compose",
        data={"csrf": alice.csrf("/compose"), "text": "look at this", "alt": "a white square"},
        files={"image": ("square.png", expanding_png(8, 8), "image/png")},
    )
    assert r.status_code == 303, r.text
    page = alice.get(r.headers["location"]).text
    media = re.search(r'<img src="(/media/(\d+)/display)"', page)
    assert media, page
    assert alice.get(media.group(1)).headers["content-type"] == "image/png"  # its owner sees it at once
    # A draft until the media module hears of the tweet (an event), then anyone may see it.
    api.eventually(
        lambda: api.client.get(f"/api/media/{media.group(2)}/display").status_code == 200, timeout_s=3
    )


def test_notifications_and_mark_read(browsers: Callable[[], Browser], api: Api) -> None:
    alice, bob = browsers(), browsers()
    alice.sign_up("alice")
    bob.sign_up("bob")
    bob.submit(f"/users/{bob.user_id('alice')}/follow", page="/u/alice")
    api.eventually(lambda: "followed you" in alice.get("/notifications").text, timeout_s=3)
    page = alice.get("/notifications").text
    assert "followed you" in page
    assert "bob" in page
    assert "Mark all as read" in page
    assert alice.submit("/notifications/read", page="/notifications").status_code == 303
    assert "Mark all as read" not in alice.get("/notifications").text


def test_settings_change_the_profile(browsers: Callable[[], Browser]) -> None:
    alice = browsers()
    alice.sign_up("alice")
    r = alice.submit("/settings/profile", {"display_name": "Alice A", "bio": "hello there"}, page="/settings")
    assert r.status_code == 200
    assert "Profile saved." in r.text
    assert "Alice A" in alice.get("/u/alice").text
    assert "hello there" in alice.get("/u/alice").text


def test_infinite_scroll_pages_by_cursor(browsers: Callable[[], Browser], api: Api) -> None:
    alice = browsers()
    alice.sign_up("alice")
    for n in range(25):
        alice.post(f"tweet number {n}")
    api.eventually(lambda: "tweet number 24" in alice.get("/").text, timeout_s=3)  # fan-out is an event
    first = alice.get("/").text
    more = re.search(r'hx-get="(/\?cursor=[^"]+)"', first)
    assert more, "the home page links its next page"
    fragment = alice.get(more.group(1).replace("&amp;", "&"), headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text  # a fragment for HTMX to append
    seen = tweet_ids(first) + tweet_ids(fragment.text)
    assert len(seen) == 25
    assert len(set(seen)) == 25
    plain = alice.get(more.group(1).replace("&amp;", "&"))  # without JavaScript: a whole page
    assert "<html" in plain.text


def test_images_carry_their_alt_text(browsers: Callable[[], Browser], api: Api) -> None:
    alice, bob = browsers(), browsers()
    alice.sign_up("alice")
    bob.sign_up("bob")
    r = alice.request(
        "POST",
        "/compose",
        data={"csrf": alice.csrf("/compose"), "text": "described", "alt": 'a "white" <square>'},
        files={"image": ("square.png", expanding_png(8, 8), "image/png")},
    )
    assert r.status_code == 303, r.text
    alt = 'alt="a &#34;white&#34; &lt;square&gt;"'
    assert alt in alice.get(r.headers["location"]).text  # the author sees it at once
    # Others once the media module has heard of the tweet (until then the image is a draft).
    api.eventually(lambda: alt in bob.get(r.headers["location"]).text, timeout_s=3)
    assert alt in bob.get("/u/alice").text


def test_settings_avatar_password_and_authorised_apps(browsers: Callable[[], Browser], api: Api) -> None:
    alice = browsers()
    alice.sign_up("alice")
    r = alice.request(
        "POST",
        "/settings/avatar",
        data={"csrf": alice.csrf("/settings")},
        files={"avatar": ("me.png", expanding_png(16, 16), "image/png")},
    )
    assert r.status_code == 200, r.text
    assert "Avatar saved." in r.text
    avatar = re.search(
        r'<img class="avatar" src="(/api/media/\d+/thumb)" alt="Avatar of @alice"',
        browsers().get("/u/alice").text,
    )
    assert avatar
    assert browsers().get(avatar.group(1)).status_code == 200  # a profile image is public

    wrong = alice.submit(
        "/settings/password", {"current_password": "nope", "new_password": "a new password"}, page="/settings"
    )
    assert wrong.status_code == 422
    assert 'id="current_password-error">that is not your password' in wrong.text
    other = browsers()  # a second session of alice's, which the change must end
    other.sign_in("alice")
    assert "Sign out" in other.get("/").text
    changed = alice.submit(
        "/settings/password",
        {"current_password": "correct horse battery", "new_password": "a new password"},
        page="/settings",
    )
    assert changed.status_code == 303
    assert "tc_session=" in " ".join(changed.headers.get_list("set-cookie"))  # a new session here
    assert "Password changed." in alice.get(changed.headers["location"]).text
    # The other session ends (within the gateway's token-status cache, about a second).
    api.eventually(lambda: other.get("/settings").status_code == 303, timeout_s=3)
    assert browsers().sign_in("alice", "a new password").status_code == 303

    settings_page = alice.get("/settings").text
    assert "You have not authorised any app." in settings_page


def test_settings_list_and_revoke_an_authorised_app(browsers: Callable[[], Browser], api: Api) -> None:
    owner = api.user("appmaker")
    app = register_client(api.client, owner, name="Nice Reader")
    alice = browsers()
    alice.sign_up("alice")
    granted = code_flow(api.client, app, "alice", scope="read")
    assert api.client.get("/api/users/me", headers=bearer(granted["access_token"])).status_code == 200

    page = alice.get("/settings").text
    assert "Nice Reader" in page
    action = re.search(r'action="(/settings/apps/[^"]+/revoke)"', page)
    assert action
    r = alice.submit(action.group(1).replace("&amp;", "&"), page="/settings")
    assert r.status_code == 200
    assert "Access revoked." in r.text
    assert "Nice Reader" not in r.text
    # The app's token stops (within the gateway's token-status cache, about a second).
    api.eventually(
        lambda: api.client.get("/api/users/me", headers=bearer(granted["access_token"])).status_code == 401,
        timeout_s=3,
    )


def test_a_content_warning_hides_the_text_until_opened(browsers: Callable[[], Browser], api: Api) -> None:
    alice = browsers()
    alice.sign_up("alice")
    r = api.client.post(
        "/api/tweets",
        json={"text": "the ending of the film", "spoiler_text": "film spoilers"},
        headers={"Authorization": "Bearer " + api.login("alice", "correct horse battery")["access_token"]},
    )
    assert r.status_code == 201, r.text
    page = browsers().get(f"/tweets/{r.json()['id']}").text
    assert '<details class="warning"><summary>Content warning: film spoilers</summary>' in page
    assert page.index("film spoilers") < page.index("the ending of the film")


def test_compose_with_a_content_warning(browsers: Callable[[], Browser]) -> None:
    alice = browsers()
    alice.sign_up("alice")
    r = alice.post("who did it", spoiler_text="mystery spoilers")
    assert r.status_code == 303
    assert "Content warning: mystery spoilers</summary>" in browsers().get(r.headers["location"]).text


def test_an_unknown_address_is_a_page_for_a_browser_and_a_problem_for_a_machine(
    browsers: Callable[[], Browser],
) -> None:
    visitor = browsers()
    page = visitor.get("/no-such-page", headers={"accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Not found" in page.text
    assert "Traceback" not in page.text
    machine = visitor.get("/no-such-page", headers={"accept": "application/json"})
    assert machine.status_code == 404
    assert machine.headers["content-type"].startswith("application/problem+json")
    api = visitor.get("/api/no-such-route", headers={"accept": "text/html"})
    assert api.status_code == 404
    assert api.headers["content-type"].startswith("application/problem+json")


def test_the_image_of_a_followers_only_tweet_shows_to_followers_only(
    browsers: Callable[[], Browser], api: Api
) -> None:
    alice = api.user("alice")
    uploaded = api.client.post(
        "/api/media", files={"file": ("a.png", expanding_png(8, 8), "image/png")}, headers=alice.headers
    )
    assert uploaded.status_code == 201, uploaded.text
    media_id = uploaded.json()["id"]
    body = {"text": "for followers", "visibility": "private", "media_ids": [media_id]}
    posted = api.client.post("/api/tweets", json=body, headers=alice.headers)
    assert posted.status_code == 201, posted.text
    bob, stranger = browsers(), browsers()
    bob.sign_up("bob")
    stranger.sign_up("dave")
    bob.submit(f"/users/{alice.id}/follow", page="/u/alice")
    page = bob.get(f"/tweets/{posted.json()['id']}").text
    image = f"/media/{media_id}/display"
    assert f'<img src="{image}"' in page
    api.eventually(lambda: bob.get(image).status_code == 200, timeout_s=3)  # once attached
    assert bob.get(image).headers["content-type"] == "image/png"
    assert "public" not in bob.get(image).headers["cache-control"]
    assert stranger.get(image).status_code == 404
    assert browsers().get(image).status_code == 404  # signed out


def test_mentions_and_hashtags_link_and_markup_stays_text(browsers: Callable[[], Browser], api: Api) -> None:
    alice = api.user("alice")
    api.user("bob")  # a resolvable @bob
    text = '@bob look #Cats <script>alert("x")</script> <img src=x onerror=alert(1)> @nobody'
    posted = api.client.post("/api/tweets", json={"text": text}, headers=alice.headers)
    assert posted.status_code == 201, posted.text
    page = browsers().get(f"/tweets/{posted.json()['id']}").text
    assert '<a href="/u/bob" class="mention">@bob</a>' in page
    assert '<a href="/search?q=%23cats" class="hashtag" rel="tag">#Cats</a>' in page
    assert "&lt;script&gt;alert(" in page  # shown, as text
    assert "<script>alert" not in page
    assert "<img src=x" not in page
    assert 'href="/u/nobody"' not in page
    found = browsers().get("/search?q=%23cats").text
    assert posted.json()["id"] in found  # the hashtag's link leads to its tweets
