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
from typing import Protocol

from boundaries.tweets.dto import OPEN_VISIBILITIES
from boundaries.users.directory import UserDirectoryPort
from boundaries.users.dto import Standing

PUBLIC = "public"
UNLISTED = "unlisted"
PRIVATE = "private"
DIRECT = "direct"
#: Visibilities that anyone may see, and so may share (retweet, quote).
OPEN = OPEN_VISIBILITIES

_NO_STANDING = Standing(user_id="")


class Audience(Protocol):
    """What decides who sees one tweet: its author, visibility, and whom it addresses."""

    @property
    def author_id(self) -> int: ...

    @property
    def visibility(self) -> str: ...

    def addressed(self) -> frozenset[int]:
        """The users it mentions, and the author it replies to."""
        ...


class Viewpoint:
    """One viewer's standing to a page's authors, and the verdicts that follow from it."""

    def __init__(
        self,
        viewer: int | None,
        standings: dict[int, Standing],
        *,
        feed: bool,
        asked: frozenset[int] = frozenset(),
        follows_asked: frozenset[int] = frozenset(),
    ) -> None:
        self.viewer = viewer
        self._standings = standings
        self._feed = feed
        #: Whom users was asked about (silences), and about whose follows: a later page part
        #: (``known=``) asks only about the others.
        self.asked = asked
        self.follows_asked = follows_asked

    @classmethod
    async def of(
        cls,
        users: UserDirectoryPort,
        viewer: int | None,
        tweets: Iterable[Audience],
        *,
        feed: bool = False,
        known: Viewpoint | None = None,
    ) -> Viewpoint:
        """The viewer's standing to the authors of ``tweets``: one users call (none for anonymous
        readers, the viewer's own tweets, or authors ``known`` already answers for). Follows are
        asked only where they decide something: followers-only tweets not addressed to the viewer."""
        if viewer is None:
            return cls(viewer, {}, feed=feed)
        asked = known.asked if known is not None else frozenset()
        follows_asked = known.follows_asked if known is not None else frozenset()
        authors: dict[int, None] = {}
        follows: dict[int, None] = {}
        for t in tweets:
            author = t.author_id
            if author == viewer:
                continue
            if author not in asked:
                authors[author] = None
            if t.visibility == PRIVATE and author not in follows_asked and viewer not in t.addressed():
                follows[author] = None
        fresh = await cls.about(users, viewer, authors, follows, feed=feed)
        if known is None:
            return fresh
        return cls(
            viewer,
            {**known._standings, **fresh._standings},
            feed=feed,
            asked=asked | fresh.asked,
            follows_asked=follows_asked | fresh.follows_asked,
        )

    @classmethod
    async def about(
        cls,
        users: UserDirectoryPort,
        viewer: int | None,
        authors: Iterable[int],
        follows: Iterable[int] = (),
        *,
        feed: bool = False,
    ) -> Viewpoint:
        """The viewer's standing to some authors (and whether they follow ``follows``)."""
        others = [a for a in authors if a != viewer]
        followed = [a for a in follows if a != viewer]
        if viewer is None or not (others or followed):
            return cls(viewer, {}, feed=feed)
        answers = await users.standings(str(viewer), [str(a) for a in others], [str(a) for a in followed])
        return cls(
            viewer,
            {int(s.user_id): s for s in answers},
            feed=feed,
            asked=frozenset(others),
            follows_asked=frozenset(followed),
        )

    def standing(self, user: int) -> Standing:
        return self._standings.get(user, _NO_STANDING)

    def hides_author(self, author: int) -> bool:
        """Whether everything of ``author`` is hidden: a block either way (or a mute, in a feed)."""
        if author == self.viewer:
            return False
        s = self._standings.get(author)
        return s is not None and (s.blocking or s.blocked_by or (self._feed and s.muting))

    def may_see(self, tweet: Audience) -> bool:
        """Whether the viewer may see this tweet at all."""
        author = tweet.author_id
        if author == self.viewer:
            return True
        if self._standings and self.hides_author(author):
            return False
        if tweet.visibility in OPEN:
            return True
        if self.viewer is None:
            return False
        if self.viewer in tweet.addressed():
            return True
        return tweet.visibility == PRIVATE and self.standing(author).following

    def follows(self, author: int) -> bool:
        return author == self.viewer or self.standing(author).following


def shareable(visibility: str) -> bool:
    """Whether a tweet may be retweeted or quoted: only when anyone may see it already."""
    return visibility in OPEN


def listed(visibility: str) -> bool:
    """Whether a tweet appears in the public and hashtag timelines and in search."""
    return visibility == PUBLIC
