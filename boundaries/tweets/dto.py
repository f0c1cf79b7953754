"""Data the tweets module accepts and returns."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from boundaries._kernel.ids import Id
from boundaries.users.dto import Author

MediaIds = Annotated[list[Id], msgspec.Meta(max_length=4)]
#: The most tweets one user may pin to their profile (as on Mastodon).
MAX_PINS = 5
#: A content warning shown in place of the text until the reader opens it (length checked by the service).
SpoilerText = Annotated[str, msgspec.Meta(max_length=10_000)]
#: An ISO 639-1 language code (two lower-case letters; the service checks it is a real one).
Language = Annotated[str, msgspec.Meta(min_length=2, max_length=2, pattern=r"^[a-z]{2}$")]

#: Who may see a tweet (Mastodon's four): ``public`` everyone, everywhere; ``unlisted`` everyone,
#: but not in the public and hashtag timelines nor in search; ``private`` the author's followers
#: and the users it mentions; ``direct`` only the users it mentions. See docs/visibility.md.
Visibility = Literal["public", "unlisted", "private", "direct"]
#: Visibilities anyone may see (who sees the others is the tweets module's to decide).
OPEN_VISIBILITIES: frozenset[str] = frozenset({"public", "unlisted"})


class PostTweet(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A new tweet, reply or quote. Length is checked by the service (configurable)."""

    text: Annotated[str, msgspec.Meta(max_length=10_000)]
    reply_to_id: Id | None = None
    quote_of_id: Id | None = None
    media_ids: MediaIds = msgspec.field(default_factory=list)
    visibility: Visibility = "public"
    #: A content warning: readers see it, and open the text (and media) when they choose.
    spoiler_text: SpoilerText = ""
    #: Whether the media should be hidden behind a warning (implied by a non-empty spoiler_text).
    sensitive: bool = False
    #: The language of the text, ISO 639-1 (``en``, ``de``…); unknown codes are refused.
    language: Language | None = None


class Mention(msgspec.Struct, frozen=True, kw_only=True):
    """An @handle in a tweet, and the account it names when one exists."""

    handle: str
    user_id: Id | None = None


class Entities(msgspec.Struct, frozen=True, kw_only=True):
    """What was parsed out of a tweet's text."""

    hashtags: list[str] = msgspec.field(default_factory=list)
    mentions: list[Mention] = msgspec.field(default_factory=list)
    urls: list[str] = msgspec.field(default_factory=list)


class Counts(msgspec.Struct, frozen=True, kw_only=True):
    """Engagement counters of a tweet."""

    likes: int = 0
    retweets: int = 0
    replies: int = 0
    quotes: int = 0


class Viewer(msgspec.Struct, frozen=True, kw_only=True):
    """How the viewer has engaged with a tweet (absent for anonymous reads)."""

    liked: bool = False
    retweeted: bool = False
    bookmarked: bool = False


class Tweet(msgspec.Struct, frozen=True, kw_only=True):
    """A tweet as it is shown: text, author, entities, counts, and what it refers to.

    A retweet has empty text and carries the original in ``retweet_of``; a quote carries
    the quoted tweet in ``quoted`` (one level deep).
    """

    id: Id
    author: Author
    text: str
    created_at: datetime
    conversation_id: Id
    reply_to_id: Id | None = None
    reply_to_author_id: Id | None = None
    quote_of_id: Id | None = None
    retweet_of_id: Id | None = None
    entities: Entities = msgspec.field(default_factory=Entities)
    media_ids: list[Id] = msgspec.field(default_factory=list)
    counts: Counts = msgspec.field(default_factory=Counts)
    viewer: Viewer | None = None
    retweet_of: Tweet | None = None
    quoted: Tweet | None = None
    visibility: Visibility = "public"
    spoiler_text: str = ""
    sensitive: bool = False
    language: str | None = None
    #: Whether its author pinned it to their profile.
    pinned: bool = False


class TweetRef(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """A tweet id with its author and time: what timelines store and merge."""

    tweet_id: Id
    author_id: Id
    created_at: datetime


class UserTweetsFilter(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Which of a user's tweets to list (all false: every tweet and retweet)."""

    #: Leave out replies (a reply to oneself, a thread, stays, as on Mastodon).
    exclude_replies: bool = False
    #: Leave out retweets.
    exclude_retweets: bool = False
    #: Only tweets that carry media.
    only_media: bool = False
    #: Only the tweets the author pinned (newest pin first; at most ``MAX_PINS``).
    pinned: bool = False


class Context(msgspec.Struct, frozen=True, kw_only=True):
    """A tweet's place in its conversation.

    ``ancestors``: the chain of tweets it replies to, oldest first (bounded). ``descendants``:
    the replies under it, at any depth, in thread order (depth first, oldest first; bounded).
    """

    ancestors: list[Tweet] = msgspec.field(default_factory=list)
    descendants: list[Tweet] = msgspec.field(default_factory=list)


class PublicChanges(msgspec.Struct, frozen=True, kw_only=True):
    """What the public timeline (or one hashtag's) gained and lost since a position (live streams).

    ``posted``: ids of new public tweets, oldest first (no retweets, no replies to others);
    ``deleted``: ids of such tweets deleted since; ``position``: where to resume (opaque).
    """

    posted: list[Id] = msgspec.field(default_factory=list)
    deleted: list[Id] = msgspec.field(default_factory=list)
    position: str


class AuthorActivity(msgspec.Struct, frozen=True, kw_only=True):
    """How much an author has posted: statuses (tweets and retweets, not direct ones) and when
    the newest of them was posted (None before the first)."""

    author_id: Id
    statuses_count: int
    last_status_at: datetime | None = None
