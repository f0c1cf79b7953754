"""A status's ``content`` and an account's ``note`` as Mastodon renders them: sanitised HTML.

The text is stored plain; here it is escaped and only what the tweets module parsed out of it
(its entities) becomes markup: resolved @mentions link to the account (Mastodon's ``h-card``),
#hashtags to the tag page, http(s) URLs to themselves. Paragraphs (blank lines) are ``<p>``,
line breaks ``<br />``. The patterns find candidates; a candidate is linked only when the
entities name it, so what is linked is the module's decision, never the adapter's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from html import escape

from boundaries.tweets.dto import Entities

# Candidates, in one pass: a URL, a #hashtag, an @mention (the entities decide which are real).
_TOKEN = re.compile(
    r"(?P<url>(?<![\w@])https?://[^\s<>\"'\u00a0]+)"
    r"|(?P<tag>(?<![\w&#])#(?P<tagname>\w+))"
    r"|(?P<mention>(?<![\w@])@(?P<handle>[A-Za-z0-9_]{1,15})(?![A-Za-z0-9_@]))"
)
_URL_TRAILING = ".,;:!?)]}'\"…"


def _link_url(url: str) -> str:
    href = escape(url, quote=True)
    scheme, _, rest = url.partition("://")
    return (
        f'<a href="{href}" target="_blank" rel="nofollow noopener noreferrer" translate="no">'
        f'<span class="invisible">{escape(scheme)}://</span><span class="">{escape(rest)}</span></a>'
    )


def _render_line(line: str, base: str, urls: set[str], tags: set[str], mentions: Mapping[str, str]) -> str:
    out: list[str] = []
    pos = 0
    for match in _TOKEN.finditer(line):
        start, end = match.span()
        piece: str | None = None
        if match.group("url"):
            url = match.group("url").rstrip(_URL_TRAILING)
            if url in urls:
                end = start + len(url)
                piece = _link_url(url)
        elif match.group("tag"):
            name = match.group("tagname")
            if name.lower() in tags:
                href = escape(f"{base}/tags/{name.lower()}", quote=True)
                piece = f'<a href="{href}" class="mention hashtag" rel="tag">#<span>{escape(name)}</span></a>'
        else:
            handle = match.group("handle")
            account_url = mentions.get(handle.lower())
            if account_url is not None:
                href = escape(account_url, quote=True)
                piece = (
                    f'<span class="h-card" translate="no"><a href="{href}" class="u-url mention">'
                    f"@<span>{escape(handle)}</span></a></span>"
                )
        if piece is None:
            continue
        out.append(escape(line[pos:start], quote=False))
        out.append(piece)
        pos = end
    out.append(escape(line[pos:], quote=False))
    return "".join(out)


def render(
    text: str, base: str, entities: Entities | None = None, mentions: Mapping[str, str] | None = None
) -> str:
    """``text`` as HTML: escaped, entities linked, paragraphs and line breaks kept.

    ``mentions`` maps a lower-cased handle to its account URL (only resolved mentions link).
    """
    if not text:
        return ""
    urls = set(entities.urls) if entities else set()
    tags = {t.lower() for t in entities.hashtags} if entities else set()
    linked = mentions or {}
    paragraphs = [p for p in re.split(r"\n\s*\n", text.replace("\r\n", "\n")) if p.strip()]
    return "".join(
        "<p>" + "<br />".join(_render_line(line, base, urls, tags, linked) for line in p.split("\n")) + "</p>"
        for p in paragraphs
    )


__all__ = ["render"]
