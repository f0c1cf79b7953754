"""Who may see a tweet: the one place that decides it, for every face and every topology.

The rules (Mastodon's, see docs/visibility.md):

* the author always sees their own tweets;
* a block, either way, hides everything between the two users;
* ``public`` and ``unlisted`` tweets are seen by everyone else (anonymous readers included);
  where they are *listed* (public and hashtag timelines, search) is decided by the listing;
* ``private`` (followers-only) tweets are seen by the author's followers and by the users the
  tweet mentions (or replies to);
* ``direct`` tweets are seen only by the users they mention (or reply to).

In a timeline (home, public, hashtag) a muted author's tweets, and retweets of them or by them,
are left out as well; muting hides nothing when a tweet is asked for directly.

The viewer's standing to the authors of a page (follows, blocks both ways, mutes) is asked of
the users module in one call per page (``UserDirectoryPort.standings``), and only when the page
holds someone else's tweet.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from boundaries.users.directory import UserDirectoryPort
from boundaries.users.dto import Standing

PUBLIC = "public"
UNLISTED = "unlisted"
PRIVATE = "private"
DIRECT = "direct"
#: Visibilities that anyone may see, and so may share (retweet, quote).
OPEN = frozenset({PUBLIC, UNLISTED})

_NO_STANDING = Standing(user_id="")


@dataclass(frozen=True, slots=True)
class Audience:
    """What decides who sees one tweet: its author, visibility, and who it addresses."""

    author_id: int
    visibility: str
    #: The users it mentions, and the author it replies to.
    addressed: frozenset[int]


class Viewpoint:
    """One viewer's standing to a page's authors, and the verdicts that follow from it."""

    def __init__(self, viewer: int | None, standings: dict[int, Standing], *, feed: bool) -> None:
        self.viewer = viewer
        self._standings = standings
        self._feed = feed

    @classmethod
    async def of(
        cls, users: UserDirectoryPort, viewer: int | None, authors: Iterable[int], *, feed: bool = False
    ) -> Viewpoint:
        """The viewer's standing to ``authors``: one users call, none for anonymous or own pages."""
        others = list(dict.fromkeys(a for a in authors if a != viewer))
        if viewer is None or not others:
            return cls(viewer, {}, feed=feed)
        answers = await users.standings(str(viewer), [str(a) for a in others])
        return cls(viewer, {int(s.user_id): s for s in answers}, feed=feed)

    def standing(self, user: int) -> Standing:
        return self._standings.get(user, _NO_STANDING)

    def hides_author(self, author: int) -> bool:
        """Whether everything of ``author`` is hidden: a block either way (or a mute, in a feed)."""
        if author == self.viewer:
            return False
        s = self.standing(author)
        return s.blocking or s.blocked_by or (self._feed and s.muting)

    def may_see(self, tweet: Audience) -> bool:
        """Whether the viewer may see this tweet at all."""
        if tweet.author_id == self.viewer:
            return True
        if self.hides_author(tweet.author_id):
            return False
        if tweet.visibility in OPEN:
            return True
        if self.viewer is None:
            return False
        if self.viewer in tweet.addressed:
            return True
        return tweet.visibility == PRIVATE and self.standing(tweet.author_id).following

    def follows(self, author: int) -> bool:
        return author == self.viewer or self.standing(author).following


def shareable(visibility: str) -> bool:
    """Whether a tweet may be retweeted or quoted: only when anyone may see it already."""
    return visibility in OPEN


def listed(visibility: str) -> bool:
    """Whether a tweet appears in the public and hashtag timelines and in search."""
    return visibility == PUBLIC
