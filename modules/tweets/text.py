"""Tweet text: normalisation, entity parsing (hashtags, mentions, URLs) and safe search queries.

Pure functions, no I/O: the service resolves mentions and writes rows.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_URL = re.compile(r"(?i)(?<![\w@])https?://[^\s<>\"'\u00a0]+")
_URL_TRAILING = ".,;:!?)]}'\"…"
# A hashtag is '#' then unicode letters/digits/underscore, not glued to a word, '&' (entities) or '#'.
_HASHTAG = re.compile(r"(?<![\w&#])#(\w+)")
# A mention is '@' then 1-15 handle characters, not part of an email address or a longer run.
_MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9_]{1,15})(?![A-Za-z0-9_@])")
# Search terms are cut into runs of letters/digits, as the FTS tokenizers do.
_SEARCH_TOKEN = re.compile(r"[^\W_]+")

#: At most this many terms of a search query are used (the rest are ignored).
MAX_SEARCH_TERMS = 16


def normalize_text(text: str) -> str:
    """NFC-normalise and strip; length is then counted in code points."""
    return unicodedata.normalize("NFC", text).strip()


@dataclass(frozen=True, slots=True)
class ParsedText:
    """The entities found in a tweet's text (mentions not yet resolved to accounts)."""

    hashtags: list[str]
    mentions: list[str]
    urls: list[str]


def _unique(items: list[str], *, fold_case: bool = False) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for item in items:
        k = item.lower() if fold_case else item
        if k not in seen:
            seen.add(k)
            out.append(item)
    return out


def parse_entities(text: str) -> ParsedText:
    """Hashtags (lowercased, unique, in order), mentions (unique ignoring case), http(s) URLs."""
    urls: list[str] = []
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(_URL_TRAILING)
        if len(url) > len("https://"):
            urls.append(url)
    # Hashtags and mentions inside URLs (fragments, paths) are not entities.
    without_urls = _URL.sub(lambda m: " " * len(m.group(0)), text)
    hashtags = _unique([m.group(1).lower() for m in _HASHTAG.finditer(without_urls)])
    mentions = _unique([m.group(1) for m in _MENTION.finditer(without_urls)], fold_case=True)
    return ParsedText(hashtags=hashtags, mentions=mentions, urls=_unique(urls))


@dataclass(frozen=True, slots=True)
class SearchTerm:
    """One term of a search: a phrase of plain tokens, over the text or over the hashtags."""

    phrase: str
    hashtag: bool


def search_terms(query: str) -> list[SearchTerm]:
    """Cut user input into safe terms: only letter/digit tokens survive, so no syntax leaks through.

    Each whitespace-separated word becomes one phrase (``foo-bar`` -> ``"foo bar"``); a word
    starting with '#' searches the hashtags only. Operators (``AND``, ``NEAR``, ``*``, quotes)
    lose their meaning: they are searched as words, or dropped when they hold no letters.
    """
    terms: list[SearchTerm] = []
    for word in unicodedata.normalize("NFC", query).split():
        hashtag = word.startswith("#")
        tokens = _SEARCH_TOKEN.findall(word.lower() if hashtag else word)
        if not tokens:
            continue
        term = SearchTerm(phrase=" ".join(tokens), hashtag=hashtag)
        if term not in terms:
            terms.append(term)
        if len(terms) == MAX_SEARCH_TERMS:
            break
    return terms
