"""A status's ``content`` and an account's ``note`` as Mastodon renders them: sanitised HTML.

The linking itself is the gateway's shared helper (``gateway/linkify.py``: escape everything,
link only what the tweets module's entities name); here are Mastodon's URLs and markup:
resolved @mentions link to the account (Mastodon's ``h-card``), #hashtags to the tag page,
http(s) URLs to themselves. Paragraphs (blank lines) are ``<p>``, line breaks ``<br />``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from html import escape

from boundaries.tweets.dto import Entities
from twitterclone.gateway.linkify import Links, Markup, linkify


def _url(href: str, url: str) -> str:
    scheme, _, rest = url.partition("://")
    return (
        f'<a href="{href}" target="_blank" rel="nofollow noopener noreferrer" translate="no">'
        f'<span class="invisible">{escape(scheme)}://</span><span class="">{escape(rest)}</span></a>'
    )


def _tag(href: str, name: str) -> str:
    return f'<a href="{href}" class="mention hashtag" rel="tag">#<span>{escape(name)}</span></a>'


def _mention(href: str, handle: str) -> str:
    return (
        f'<span class="h-card" translate="no"><a href="{href}" class="u-url mention">'
        f"@<span>{escape(handle)}</span></a></span>"
    )


MASTODON_MARKUP = Markup(url=_url, tag=_tag, mention=_mention)


def render(
    text: str, base: str, entities: Entities | None = None, mentions: Mapping[str, str] | None = None
) -> str:
    """``text`` as HTML: escaped, entities linked, paragraphs and line breaks kept.

    ``mentions`` maps a lower-cased handle to its account URL (only resolved mentions link).
    """
    if not text:
        return ""
    linked = mentions or {}
    links = Links(
        mention_url=lambda handle: linked.get(handle.lower()),
        tag_url=lambda name: f"{base}/tags/{name}",
        markup=MASTODON_MARKUP,
    )
    if "\n" not in text:  # one line (most statuses): one paragraph, or none when blank
        return f"<p>{linkify(text, entities, links)}</p>" if text.strip() else ""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.replace("\r\n", "\n")) if p.strip()]
    return "".join(
        "<p>" + "<br />".join(linkify(line, entities, links) for line in p.split("\n")) + "</p>"
        for p in paragraphs
    )


__all__ = ["MASTODON_MARKUP", "render"]
