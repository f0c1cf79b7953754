"""Tweet text as safe HTML with its @mentions, #hashtags and URLs linked: one helper for every face.

The text is stored plain. Everything of it is escaped; only what the tweets module parsed out of
it (its ``Entities``) becomes a link, so what is linked is the module's decision, never a face's:
the patterns here find candidates, and a candidate is linked only when the entities name it (a
mention only when it resolved to an account). Each face says where links go (``Links``: URL
builders) and how a link is marked up (``Markup``): the Mastodon API links to its account and tag
URLs with Mastodon's classes, the web client to its profile and search pages.

Hrefs come only from the face's builders or from URLs the module parsed (``http``/``https``
only), and are escaped as attribute values; nothing of the text can open a tag or an attribute.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape

from boundaries.tweets.dto import Entities

# Candidates, in one pass: a URL, a #hashtag, an @mention (the entities decide which are real).
# Each alternative starts with its literal character and looks behind it from there (``h`` then
# "not after a word character or @"), so the regex engine scans for ``h``, ``#`` or ``@`` instead
# of trying three lookbehinds at every position of the text (a few times faster on a status).
_TOKEN = re.compile(
    r"h(?<![\w@]h)(?P<url>ttps?://[^\s<>\"'\u00a0]+)"
    r"|#(?<![\w&#]#)(?P<tagname>\w+)"
    r"|@(?<![\w@]@)(?P<handle>[A-Za-z0-9_]{1,15})(?![A-Za-z0-9_@])"
)
_URL_TRAILING = ".,;:!?)]}'\"…"
#: What ``html.escape(..., quote=False)`` changes.
_SPECIAL = re.compile(r"[&<>]")


def _plain_url(href: str, url: str) -> str:
    return f'<a href="{href}" rel="nofollow noopener noreferrer" target="_blank">{escape(url)}</a>'


def _plain_tag(href: str, name: str) -> str:
    return f'<a href="{href}" class="hashtag" rel="tag">#{escape(name)}</a>'


def _plain_mention(href: str, handle: str) -> str:
    return f'<a href="{href}" class="mention">@{escape(handle)}</a>'


@dataclass(frozen=True, slots=True)
class Markup:
    """How a face marks up each kind of link. Each function gets the href (already escaped for
    an attribute) and the raw text shown (the URL, the tag name without ``#``, the handle without
    ``@``), which it must escape."""

    url: Callable[[str, str], str] = _plain_url
    tag: Callable[[str, str], str] = _plain_tag
    mention: Callable[[str, str], str] = _plain_mention


@dataclass(frozen=True, slots=True)
class Links:
    """Where a face's links go: an account's page by handle (None: not linked), a tag's page by
    its lower-cased name."""

    mention_url: Callable[[str], str | None]
    tag_url: Callable[[str], str]
    markup: Markup = field(default_factory=Markup)


def _escape_text(text: str) -> str:
    """``html.escape(text, quote=False)``, without its three replaces when none is needed."""
    return escape(text, quote=False) if _SPECIAL.search(text) else text


def linkify(text: str, entities: Entities | None, links: Links) -> str:
    """``text`` escaped, with the entities' URLs, hashtags and resolved mentions linked; line
    breaks are kept as they are (a face decides how to show them)."""
    if not text:
        return ""
    if entities is None:
        return _escape_text(text)
    urls = set(entities.urls)
    tags = {t.lower() for t in entities.hashtags}
    resolved = {m.handle.lower() for m in entities.mentions if m.user_id is not None}
    if not (urls or tags or resolved):  # nothing to link: the text escaped, as the loop would give it
        return _escape_text(text)
    markup = links.markup
    out: list[str] = []
    pos = 0
    for match in _TOKEN.finditer(text):
        start, end = match.span()
        piece: str | None = None
        kind = match.lastgroup
        if kind == "url":
            url = match.group().rstrip(_URL_TRAILING)
            if url in urls:
                end = start + len(url)
                piece = markup.url(escape(url, quote=True), url)
        elif kind == "tagname":
            name = match.group("tagname")
            if name.lower() in tags:
                piece = markup.tag(escape(links.tag_url(name.lower()), quote=True), name)
        else:
            handle = match.group("handle")
            href = links.mention_url(handle) if handle.lower() in resolved else None
            if href is not None:
                piece = markup.mention(escape(href, quote=True), handle)
        if piece is None:
            continue
        if start > pos:
            out.append(_escape_text(text[pos:start]))
        out.append(piece)
        pos = end
    if pos < len(text):
        out.append(_escape_text(text[pos:]))
    return "".join(out)


__all__ = ["Links", "Markup", "linkify"]
