"""The shared linkify helper (gateway/linkify.py) as both faces use it: the web client's links and
the Mastodon API's ``content``. Whatever the tweet text holds, the output is escaped text and the
links the entities name, nothing else: XSS attempts stay inert text."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from boundaries.tweets.dto import Entities, Mention
from modules.tweets.text import parse_entities
from twitterclone.gateway.linkify import Links, linkify
from twitterclone.gateway.mastodon.html import render
from twitterclone.gateway.web.render import WEB_LINKS, _linkify


class Elements(HTMLParser):
    """Every element and attribute of a fragment, and its text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parsed(html: str) -> Elements:
    p = Elements()
    p.feed(html)
    p.close()
    return p


def entities_of(text: str, known: dict[str, str] | None = None) -> Entities:
    """The tweets module's own parse, with the mentions it would resolve."""
    found = parse_entities(text)
    ids = known or {"bob": "42"}
    return Entities(
        hashtags=found.hashtags,
        urls=found.urls,
        mentions=[Mention(handle=h, user_id=ids.get(h.lower())) for h in found.mentions],
    )


ATTACKS = [
    '<script>alert("x")</script> #tag @bob',
    'https://evil.example/"><script>alert(1)</script>',
    "https://evil.example/'onmouseover='alert(1)' hi",
    "javascript:alert(1) and data:text/html,<b>x</b>",
    "#<img src=x onerror=alert(1)> and #ok",
    "@bob<script>alert(1)</script>@bob",
    '<a href="javascript:alert(1)">@bob</a> #x"onclick=alert(1)',
    "&lt;script&gt; &amp; &#60;script&#62; #amp;",
    "<svg/onload=alert(1)> @nobody @bob\u202e #\u0000tag",
]


@pytest.mark.parametrize("text", ATTACKS)
def test_web_links_leave_attacks_inert(text: str) -> None:
    html = str(_linkify(text, entities_of(text)))
    fragment = parsed(html)
    assert "".join(fragment.text) == text.replace("\r\n", "\n")  # every character shown as text
    for tag, attrs in fragment.elements:
        assert tag == "a"
        assert not [name for name in attrs if name.startswith("on")]
        href = attrs["href"] or ""
        assert href.startswith(("/u/", "/search?q=%23", "https://", "http://")), href


@pytest.mark.parametrize("text", ATTACKS)
def test_mastodon_content_leaves_attacks_inert(text: str) -> None:
    html = render(text, "https://social.example", entities_of(text), {"bob": "https://social.example/@bob"})
    for tag, attrs in parsed(html).elements:
        assert tag in ("p", "br", "a", "span")
        assert not [name for name in attrs if name.startswith("on")]
        if tag == "a":
            assert (attrs["href"] or "").startswith(("https://social.example/", "https://", "http://"))


def test_web_links_go_to_the_profile_and_the_tag_search() -> None:
    text = "hi @bob and @nobody, see #Cats and https://example.org/a?b=1&c=2."
    html = str(_linkify(text, entities_of(text)))
    assert '<a href="/u/bob" class="mention">@bob</a>' in html
    assert "@nobody" in html  # an unresolved mention stays text
    assert 'href="/u/nobody"' not in html
    assert '<a href="/search?q=%23cats" class="hashtag" rel="tag">#Cats</a>' in html
    assert (
        '<a href="https://example.org/a?b=1&amp;c=2" rel="nofollow noopener noreferrer" '
        'target="_blank">https://example.org/a?b=1&amp;c=2</a>.'
    ) in html  # the trailing full stop is not part of the URL


def test_only_what_the_entities_name_is_linked() -> None:
    text = "#tag @bob https://example.org"
    assert linkify(text, None, WEB_LINKS) == "#tag @bob https://example.org"
    assert linkify(text, Entities(), WEB_LINKS) == "#tag @bob https://example.org"
    # A forged entity never makes markup out of text that is no candidate.
    forged = Entities(urls=['https://a.example/"><script>'], hashtags=['x"><script>'])
    assert "<script>" not in linkify('https://a.example/"><script> #x"><script>', forged, WEB_LINKS)


def test_faces_choose_their_urls() -> None:
    links = Links(mention_url=lambda h: f"https://elsewhere.example/people/{h}", tag_url=lambda t: f"/t/{t}")
    html = linkify("@bob #Go", entities_of("@bob #Go"), links)
    assert 'href="https://elsewhere.example/people/bob"' in html
    assert 'href="/t/go"' in html


@pytest.mark.parametrize(
    ("text", "linked"),
    [
        # A candidate starts only where no word character (nor @, nor & or # for a tag) is before it.
        ("https://example.org/a", ["https://example.org/a"]),
        ("xhttps://example.org/a @https://example.org/a", []),
        ("(https://example.org/a), #tag.", ["https://example.org/a", "#tag"]),
        ("a#tag &#tag ##tag", []),
        ("x@bob @@bob", []),
        ("@bob @bob_ @bob@bob", ["@bob"]),
        ("é@bob é#tag", []),
    ],
)
def test_where_a_link_may_start(text: str, linked: list[str]) -> None:
    entities = Entities(
        hashtags=["tag"], urls=["https://example.org/a"], mentions=[Mention(handle="bob", user_id="42")]
    )
    links = Links(mention_url=lambda handle: f"/@{handle}", tag_url=lambda name: f"/tags/{name}")
    assert [text for _, text in _anchors(linkify(text, entities, links))] == linked


def _anchors(html: str) -> list[tuple[str, str]]:
    """(href, text) of every link in a fragment."""
    out: list[tuple[str, str]] = []
    depth, href, text = 0, "", ""

    class Anchors(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            nonlocal depth, href, text
            if tag == "a":
                depth, href, text = 1, dict(attrs).get("href") or "", ""

        def handle_endtag(self, tag: str) -> None:
            nonlocal depth
            if tag == "a":
                out.append((href, text))
                depth = 0

        def handle_data(self, data: str) -> None:
            nonlocal text
            if depth:
                text += data

    parser = Anchors(convert_charrefs=True)
    parser.feed(html)
    parser.close()
    return out
