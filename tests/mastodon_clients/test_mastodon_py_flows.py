"""Mastodon.py 2.3.3, unmodified, through every flow a user meets, on the monolith and the split.

Sign in (password grant, and the out-of-band code flow with the browser step done over HTTP as a
person would), post with an image and alt text, reply, boost, favourite, bookmark, follow, read
home and public timelines across three pages, notifications, search, and a live stream.
"""

from __future__ import annotations

import html
import io
import re
import time
from typing import Any

import httpx
import pytest
from mastodon import Mastodon
from PIL import Image

from tests.e2e.harness import Deployment
from tests.e2e.scenarios import PASSWORD
from tests.mastodon_clients.conftest import Native, Steps
from tests.mastodon_clients.test_streaming_clients import DELIVERY_S, Collector, report_delay

pytestmark = pytest.mark.slow

SCOPES = ["read", "write", "follow"]
OOB = "urn:ietf:wg:oauth:2.0:oob"
#: The client steps below (each ``s(...)``).
STEPS = 26


def _loads_image(client: Mastodon, status_id: str) -> None:
    """Read the status as the client, then GET its attachment's URL as an image loader does.
    The image is attached to the status asynchronously, so a 404 is asked again, for up to 5 s."""
    attachment = client.status(status_id).media_attachments[0]
    deadline = time.monotonic() + 5
    while True:
        r = httpx.get(attachment.url)
        if r.status_code != 404 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("image/")
    assert "private" in r.headers["cache-control"]


def png() -> io.BytesIO:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 90)).save(buffer, format="PNG")
    buffer.seek(0)
    return buffer


def oob_code(authorize_url: str, login: str) -> str:
    """The person's part of the code flow: open the page, log in and consent, copy the code."""
    with httpx.Client(timeout=15) as browser:
        page = browser.get(authorize_url)
        assert page.status_code == 200, page.text
        form = dict(re.findall(r"<input[^>]*name=\"?'?([\w]+)\"?'?[^>]*value=\"?'?([^\"'>]*)", page.text))
        form.update({"login": login, "password": PASSWORD, "consent": "allow"})
        answer = browser.post(str(page.url).split("?")[0].rstrip("/"), data=form, follow_redirects=False)
        assert answer.status_code == 200, answer.text
        match = re.search(r"value='([^']+)'", answer.text)
        assert match is not None, answer.text
        return html.unescape(match.group(1))


def test_mastodon_py_does_everything(server: Deployment, native: Native, steps: Any) -> None:
    s: Steps = steps("Mastodon.py")
    base = server.base_url
    author = native.user("author")  # someone to follow, with enough posts for three pages
    for i in range(7):
        native.post(author, f"post number {i} #pages")

    client_id, client_secret = s(
        "register an app", lambda: Mastodon.create_app("tc-test", scopes=SCOPES, api_base_url=base)
    )
    me_user = native.user("reader")
    reader = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=base)
    s(
        "sign in with the password grant",
        lambda: reader.log_in(f"{me_user.handle}@example.org", PASSWORD, scopes=SCOPES),
    )
    me = s("verify credentials", reader.account_verify_credentials)
    assert me.acct == me_user.handle

    other_user = native.user("writer")
    writer = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=base)
    url = s("authorize URL (out-of-band)", lambda: writer.auth_request_url(redirect_uris=OOB, scopes=SCOPES))
    code = s("log in and consent in the browser", lambda: oob_code(url, other_user.handle))
    s("exchange the code", lambda: writer.log_in(code=code, redirect_uri=OOB, scopes=SCOPES))

    media = s(
        "upload an image with alt text",
        lambda: writer.media_post(png(), "image/png", description="a red box"),
    )
    posted = s("post with the image", lambda: writer.status_post("look at this #boxes", media_ids=[media]))
    assert posted.media_attachments[0].description == "a red box"

    # A followers-only image, loaded as apps load images: its URL, no Authorization header.
    s("follow the writer", lambda: _equal(reader.account_follow(posted.account).following, True))
    hidden = s("upload another image", lambda: writer.media_post(png(), "image/png"))
    private = s(
        "post it for followers only",
        lambda: writer.status_post("just for you", media_ids=[hidden], visibility="private"),
    )
    s("the follower's app loads its image without the token", lambda: _loads_image(reader, private.id))

    reply = s("reply", lambda: reader.status_reply(posted, "nice box"))
    assert reply.in_reply_to_id == posted.id
    boost = s("boost", lambda: reader.status_reblog(posted))
    assert boost.reblog.id == posted.id
    s("favourite", lambda: _equal(reader.status_favourite(posted).favourited, True))
    s("bookmark", lambda: _equal(reader.status_bookmark(posted).bookmarked, True))
    s("bookmarks list", lambda: _equal([b.id for b in reader.bookmarks()], [posted.id]))
    author_account = s("look the author up", lambda: reader.account_lookup(author.handle))
    s("follow", lambda: _equal(reader.account_follow(author_account).following, True))

    def three_pages(first: Any, fetch_next: Any) -> None:
        seen = [first]
        for _ in range(2):
            page = fetch_next(seen[-1])
            assert page, "no next page"
            seen.append(page)
        ids = [st.id for page in seen for st in page]
        assert len(ids) == len(set(ids)) == 6, ids
        assert ids == sorted(ids, key=int, reverse=True)

    time.sleep(1)  # the follow's back-fill
    s("home timeline, three pages", lambda: three_pages(reader.timeline_home(limit=2), reader.fetch_next))
    s(
        "public timeline, three pages",
        lambda: three_pages(reader.timeline_public(local=True, limit=2), reader.fetch_next),
    )
    s("tag timeline", lambda: _true(len(reader.timeline_hashtag("pages")) >= 2))

    def notified() -> None:
        kinds = {n.type for n in writer.notifications()}
        assert {"mention", "reblog", "favourite"} <= kinds, kinds

    s("notifications", notified)
    s("search", lambda: _true(any(a.acct == author.handle for a in reader.search_v2(author.handle).accounts)))

    events = Collector()
    stream = s("open the user stream", lambda: reader.stream_user(events, run_async=True))
    try:
        events.wait_connected()
        native.post(author, "warming up")
        events.next("update", 10)
        posted_at = time.monotonic()
        live = native.post(author, "live now")

        def arrives() -> None:
            status, _ = events.next("update", DELIVERY_S)
            report_delay("Mastodon.py user stream, a followed account's post", posted_at)
            assert status.id == live

        s("a followed account's post on the stream (delay printed)", arrives)
    finally:
        stream.close()
    s.summary(STEPS)


def _equal(got: Any, expected: Any) -> None:
    assert got == expected, f"{got!r} != {expected!r}"


def _true(value: Any) -> None:
    assert value is True
