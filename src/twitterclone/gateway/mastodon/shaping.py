"""Port results in Mastodon's shapes: Account, Status, MediaAttachment, Notification, Relationship.

Hydration is per page, never per item: a page of statuses costs at most one ``users.profiles``
call and one ``tweets.author_activity`` call (every author, reblogged author and notification
actor of the page at once, for their profiles and their statuses counts) and one
``media.get_many`` call (every attachment of the page), whatever the page size. A list of
accounts (followers, search) costs one ``tweets.author_activity`` call for the whole list.

Two in-process caches keep a page's shaping cheap (the Mastodon home page within 1.3x the native
one's CPU, BENCHMARKS.md). A status's unchanging part (its URLs, timestamp, rendered ``content``,
mentions, tags, visibility, reply ids, language: a tweet is never edited) is kept per origin and
id, bounded, both as values and as its encoded JSON. Accounts embedded in statuses are kept for
``ACCOUNT_TTL_S``, also with their encoded JSON: a profile change (name, avatar, counts) shows in
statuses within that time; one's own account (verify_credentials) and account routes always read
fresh.

A list of statuses (``Shaper.status_page``) is written as JSON bytes from those kept fragments:
each status is its kept head, its author's kept account, and the few fields that change or differ
per viewer (counts, ``favourited``, ``reblogged``, ``bookmarked``, ``pinned``, attachments)
written at once. It is exactly what encoding the ``Status`` entities (``Shaper.statuses``) gives,
field order aside (a test holds the two together), at a fraction of the cost.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, NamedTuple

import msgspec
from litestar import Request

from boundaries.media.dto import Media, ProfileImageRole
from boundaries.media.port import MediaPort
from boundaries.notifications.dto import Notification as NativeNotification
from boundaries.tweets.dto import AuthorActivity, Tweet
from boundaries.tweets.port import TweetsPort
from boundaries.users.dto import Account as NativeAccount
from boundaries.users.dto import Author, Profile
from boundaries.users.dto import Relationship as NativeRelationship
from boundaries.users.port import UsersPort
from twitterclone.gateway.mastodon import entities as m
from twitterclone.gateway.mastodon.html import render
from twitterclone.gateway.media_urls import MediaUrls
from twitterclone.gateway.profile_images import DEFAULT_IMAGES

#: Native notification kinds as Mastodon names them (a reply is a mention there).
NOTIFICATION_TYPES: dict[str, m.NotificationType] = {
    "mention": "mention",
    "reply": "mention",
    "like": "favourite",
    "retweet": "reblog",
    "follow": "follow",
}


def timestamp(moment: datetime) -> str:
    """Mastodon's datetime: ISO 8601 in UTC with milliseconds and a ``Z``."""
    utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return utc.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"  # milliseconds truncated


#: Origins already worked out, by what decides them (bounded: the Host header is the client's).
_ORIGINS: dict[tuple[Any, ...], str] = {}
_MAX_ORIGINS = 256


def base_url(request: Request[Any, Any, Any]) -> str:
    """The origin clients reach this server at (links in entities are absolute).

    What Litestar's ``request.base_url`` gives, kept by the scope's scheme, Host header, root
    path and server address (working it out again was a few per cent of a page's cost).
    """
    scope = request.scope
    host = b""
    for name, value in scope["headers"]:
        if name == b"host":
            host = value
            break
    key = (scope.get("scheme"), host, scope.get("app_root_path"), scope.get("root_path"), scope.get("server"))
    found = _ORIGINS.get(key)
    if found is None:
        if len(_ORIGINS) >= _MAX_ORIGINS:
            _ORIGINS.clear()
        found = _ORIGINS[key] = str(request.base_url).rstrip("/")
    return found


#: How long an account embedded in statuses may be reused without asking the users module.
ACCOUNT_TTL_S = 5.0
#: Bounds of the caches (entries); past them the oldest entries go.
MAX_ACCOUNTS = 20_000
MAX_STATIC = 50_000


_encode = msgspec.json.Encoder().encode
#: JSON for a bool, by the bool (False is 0, True is 1).
_BOOL = (b"false", b"true")
#: What follows an original status's account: its attachments come between the two.
_MEDIA = b',"media_attachments":'
_COUNTS = (
    b',"reblogs_count":%d,"favourites_count":%d,"replies_count":%d,'
    b'"favourited":%s,"reblogged":%s,"bookmarked":%s,"pinned":%s}'
)
#: What follows a reblog wrapper's account: the original status, then the viewer's flags.
_REBLOG = b',"reblog":'
_FLAGS = b',"favourited":%s,"reblogged":%s,"bookmarked":%s}'


class _StaticPart(NamedTuple):
    """What never changes about a status shown at one origin; ``head`` is it as JSON: the
    object opened, every unchanging field written, up to ``"account":``."""

    uri: str
    url: str
    created_at: str
    content: str
    mentions: list[m.StatusMention]
    tags: list[m.StatusTag]
    head: bytes


class _KeptAccount(NamedTuple):
    """An account embedded in statuses, until ``expires``, and its JSON."""

    expires: float
    account: m.Account
    json: bytes


class _Caches:
    """The process's shaping caches: accounts for a while, statuses' unchanging parts for good."""

    def __init__(self) -> None:
        self.accounts: dict[tuple[str, str], _KeptAccount] = {}
        self.static: dict[tuple[str, str], _StaticPart] = {}

    def account(self, key: tuple[str, str], now: float) -> _KeptAccount | None:
        found = self.accounts.get(key)
        if found is None or found.expires < now:
            return None
        return found

    def keep_account(self, key: tuple[str, str], account: m.Account, now: float) -> _KeptAccount:
        if len(self.accounts) >= MAX_ACCOUNTS:
            self.accounts = {k: v for k, v in self.accounts.items() if v.expires >= now}
            while len(self.accounts) >= MAX_ACCOUNTS:
                del self.accounts[next(iter(self.accounts))]
        kept = self.accounts[key] = _KeptAccount(now + ACCOUNT_TTL_S, account, _encode(account))
        return kept

    def keep_static(self, key: tuple[str, str], part: _StaticPart) -> None:
        if len(self.static) >= MAX_STATIC:
            del self.static[next(iter(self.static))]  # the oldest kept
        self.static[key] = part


CACHES = _Caches()


class Shaper:
    """Shapes entities for one request (its origin) and hydrates pages in batch."""

    def __init__(
        self,
        base: str,
        users: UsersPort,
        media: MediaPort,
        tweets: TweetsPort,
        caches: _Caches = CACHES,
        *,
        urls: MediaUrls | None = None,
    ) -> None:
        self.base = base
        self.users = users
        self.media = media
        self.tweets = tweets
        self._caches = caches
        #: Signs the URLs of images only some may see, for the viewer (None: no signing).
        self.urls = urls

    # ------------------------------------------------------------------------------ accounts

    def account_url(self, handle: str) -> str:
        return f"{self.base}/@{handle}"

    def image_url(self, media_id: str | None, kind: ProfileImageRole) -> str:
        """A profile image's URL (its display rendition), or for none the default image that
        this server serves itself (clients load the URL as it is: it must be an image)."""
        if media_id is None:
            return f"{self.base}{DEFAULT_IMAGES[kind]}"
        return f"{self.base}/api/media/{media_id}/display"

    def account(self, profile: Profile, activity: AuthorActivity | None = None) -> m.Account:
        """A local account; ``acct`` is the bare username. ``activity`` (the tweets module's count
        of the account's statuses) is left out only for an account that is gone."""
        avatar = self.image_url(profile.avatar_id, "avatar")
        header = self.image_url(profile.header_id, "header")
        return m.Account(
            id=profile.id,
            username=profile.handle,
            acct=profile.handle,
            url=self.account_url(profile.handle),
            uri=f"{self.base}/users/{profile.handle}",
            display_name=profile.display_name,
            note=render(profile.bio, self.base),
            avatar=avatar,
            avatar_static=avatar,
            header=header,
            header_static=header,
            locked=False,
            fields=[],
            emojis=[],
            bot=False,
            group=False,
            discoverable=True,
            indexable=True,
            hide_collections=False,
            noindex=False,
            created_at=timestamp(profile.created_at),
            # Mastodon gives the day only ("2019-11-24").
            last_status_at=activity.last_status_at.astimezone(UTC).date().isoformat()
            if activity and activity.last_status_at
            else None,
            statuses_count=activity.statuses_count if activity else 0,
            followers_count=profile.followers_count,
            following_count=profile.following_count,
        )

    def author_account(self, author: Author) -> m.Account:
        """An Account from an author summary, when the full profile is gone (a deleted account)."""
        return self.account(
            Profile(
                id=author.id,
                handle=author.handle,
                display_name=author.display_name,
                bio="",
                created_at=datetime.fromtimestamp(0, UTC),
                followers_count=0,
                following_count=0,
            )
        )

    async def credential_account(self, account: NativeAccount) -> m.CredentialAccount:
        """The caller's own Account, with ``source`` (the unrendered note) and ``role``."""
        public = await self.one_account(account.profile)
        return m.CredentialAccount(
            **{f: getattr(public, f) for f in public.__struct_fields__},
            source=m.Source(
                privacy="public",
                sensitive=False,
                language="",
                note=account.profile.bio,
                fields=[],
                follow_requests_count=0,
            ),
            role=m.Role(id="-99", name="", permissions="0", color="", highlighted=False),
        )

    async def accounts_of(self, profiles: list[Profile]) -> list[m.Account]:
        """Accounts for profiles already read (a list page): one tweets call for all their counts."""
        if not profiles:
            return []
        activity = {a.author_id: a for a in await self.tweets.author_activity([p.id for p in profiles])}
        now = time.monotonic()
        shaped = [self.account(p, activity.get(p.id)) for p in profiles]
        for account in shaped:
            self._caches.keep_account((self.base, account.id), account, now)
        return shaped

    async def one_account(self, profile: Profile) -> m.Account:
        """The Account of one profile (always fresh: the account routes)."""
        return (await self.accounts_of([profile]))[0]

    async def accounts(self, user_ids: Iterable[str]) -> dict[str, m.Account]:
        """Accounts for many ids, by id (unknown ids left out): those not kept from the last
        ``ACCOUNT_TTL_S`` in one users call and one tweets call, made together."""
        return {k: v.account for k, v in (await self._kept_accounts(user_ids)).items()}

    async def _kept_accounts(self, user_ids: Iterable[str]) -> dict[str, _KeptAccount]:
        now = time.monotonic()
        found: dict[str, _KeptAccount] = {}
        missing: list[str] = []
        base = self.base
        account = self._caches.account
        for user_id in dict.fromkeys(user_ids):
            kept = account((base, user_id), now)
            if kept is None:
                missing.append(user_id)
            else:
                found[user_id] = kept
        if missing:
            profiles, activities = await asyncio.gather(
                self.users.profiles(missing), self.tweets.author_activity(missing)
            )
            activity = {a.author_id: a for a in activities}
            for profile in profiles:
                shaped = self.account(profile, activity.get(profile.id))
                found[profile.id] = self._caches.keep_account((base, profile.id), shaped, now)
        return found

    # --------------------------------------------------------------------------------- media

    def attachment(self, media: Media, viewer_id: str | None = None) -> m.MediaAttachment:
        """An image attachment: ``url`` the display rendition, ``preview_url`` the thumbnail.

        Apps fetch these without the token, so an image only some may see (in a followers-only
        or direct tweet, or a draft) gets URLs signed for ``viewer_id`` (gateway/media_urls.py):
        written per request and viewer, never kept in the shared status fragments."""
        sizes = {v.name: v for v in media.variants}
        display = sizes.get("display") or sizes.get("original")
        thumb = sizes.get("thumb") or display
        draft = media.attached_to is None and media.profile_role is None
        restricted = media.audience_of is not None or draft
        urls = self.urls if restricted and viewer_id is not None else None

        def url(variant: str) -> str:
            plain = f"{self.base}/api/media/{media.id}/{variant}"
            return plain if urls is None else f"{plain}?{urls.query(media.id, variant, viewer_id or '')}"

        def dims(width: int, height: int) -> m.MediaDimensions:
            return m.MediaDimensions(
                width=width, height=height, size=f"{width}x{height}", aspect=width / height if height else 1.0
            )

        original = dims(media.width, media.height)
        return m.MediaAttachment(
            id=media.id,
            type="image",
            url=url(display.name if display else "original"),
            preview_url=url(thumb.name if thumb else "original"),
            remote_url=None,
            meta=m.MediaMeta(
                original=original,
                small=dims(thumb.width, thumb.height) if thumb else original,
                focus=m.Focus(x=media.focus.x, y=media.focus.y) if media.focus else m.Focus(x=0.0, y=0.0),
            ),
            description=media.description or None,
            blurhash=None,
        )

    async def attachments(
        self, media_ids: Iterable[str], viewer_id: str | None
    ) -> dict[str, m.MediaAttachment]:
        wanted = list(dict.fromkeys(media_ids))
        if not wanted:
            return {}
        return {x.id: self.attachment(x, viewer_id) for x in await self.media.get_many(wanted, viewer_id)}

    # ------------------------------------------------------------------------------ statuses

    async def statuses(
        self, tweets: list[Tweet], viewer_id: str | None, extra_accounts: Iterable[str] = ()
    ) -> tuple[list[m.Status], dict[str, m.Account]]:
        """Statuses for a page of tweets (one users call, one media call); also the accounts."""
        author_ids, media_ids = _page_ids(tweets, extra_accounts)
        accounts = await self.accounts(author_ids)
        attachments = await self.attachments(media_ids, viewer_id)
        return [self.status(t, accounts, attachments) for t in tweets], accounts

    async def status_page(self, tweets: list[Tweet], viewer_id: str | None) -> bytes:
        """A list of statuses as JSON, written from the kept fragments (the module docstring):
        the same answer as encoding ``statuses``, with the same port calls."""
        if not tweets:
            return b"[]"
        author_ids, media_ids = _page_ids(tweets)
        accounts = await self._kept_accounts(author_ids)
        attachments = await self.attachments(media_ids, viewer_id) if media_ids else {}
        parts: list[bytes] = [b"["]
        for tweet in tweets:
            self._write_status(parts, tweet, accounts, attachments)
            parts.append(b",")
        parts[-1] = b"]"
        return b"".join(parts)

    def _write_status(
        self,
        parts: list[bytes],
        tweet: Tweet,
        accounts: dict[str, _KeptAccount],
        attachments: dict[str, m.MediaAttachment],
    ) -> None:
        """Append one status's JSON to ``parts`` (a reblog wraps its original's)."""
        kept = accounts.get(tweet.author.id)
        account = kept.json if kept is not None else _encode(self.author_account(tweet.author))
        original = tweet.retweet_of
        if original is not None:
            parts += (self._wrapper_head(tweet, original), account, _REBLOG)
            self._write_status(parts, original, accounts, attachments)
            viewer = original.viewer
            if viewer is None:
                parts.append(_FLAGS % (b"false", b"false", b"false"))
            else:
                parts.append(
                    _FLAGS % (_BOOL[viewer.liked], _BOOL[viewer.retweeted], _BOOL[viewer.bookmarked])
                )
            return
        media_ids = tweet.media_ids
        media = _encode([attachments[i] for i in media_ids if i in attachments]) if media_ids else b"[]"
        counts = tweet.counts
        viewer = tweet.viewer
        liked, retweeted, bookmarked = (
            (False, False, False) if viewer is None else (viewer.liked, viewer.retweeted, viewer.bookmarked)
        )
        parts += (
            self._static(tweet).head,
            account,
            _MEDIA,
            media,
            _COUNTS
            % (
                counts.retweets,
                counts.likes,
                counts.replies,
                _BOOL[liked],
                _BOOL[retweeted],
                _BOOL[bookmarked],
                _BOOL[tweet.pinned],
            ),
        )

    def _wrapper_head(self, tweet: Tweet, original: Tweet) -> bytes:
        """A reblog wrapper's unchanging JSON, up to ``"account":`` (kept like an original's,
        under a key of its own)."""
        key = (self.base, f"reblog {tweet.id}")
        part = self._caches.static.get(key)
        if part is not None:
            return part.head
        uri = f"{self.base}/users/{tweet.author.handle}/statuses/{tweet.id}/activity"
        created_at = timestamp(tweet.created_at)
        head = _head(
            {
                "id": tweet.id,
                "uri": uri,
                "url": None,
                "created_at": created_at,
                "edited_at": None,
                "content": "",
                "visibility": original.visibility,
                "sensitive": False,
                "spoiler_text": "",
                "media_attachments": [],
                "mentions": [],
                "tags": [],
                "emojis": [],
                "reblogs_count": 0,
                "favourites_count": 0,
                "replies_count": 0,
                "in_reply_to_id": None,
                "in_reply_to_account_id": None,
                "poll": None,
                "card": None,
                "language": None,
                "muted": False,
                "pinned": False,
            }
        )
        self._caches.keep_static(key, _StaticPart(uri, "", created_at, "", [], [], head))
        return head

    async def one_status(self, tweet: Tweet, viewer_id: str | None) -> m.Status:
        shaped, _ = await self.statuses([tweet], viewer_id)
        return shaped[0]

    def status(
        self, tweet: Tweet, accounts: dict[str, m.Account], attachments: dict[str, m.MediaAttachment]
    ) -> m.Status:
        """One Status from a hydrated page; a retweet is the wrapper whose ``reblog`` is the original."""
        account = accounts.get(tweet.author.id) or self.author_account(tweet.author)
        viewer = tweet.viewer
        if tweet.retweet_of is not None:
            original = self.status(tweet.retweet_of, accounts, attachments)
            return m.Status(
                id=tweet.id,
                uri=f"{self.base}/users/{tweet.author.handle}/statuses/{tweet.id}/activity",
                url=None,
                created_at=timestamp(tweet.created_at),
                edited_at=None,
                account=account,
                content="",
                visibility=original.visibility,
                sensitive=False,
                spoiler_text="",
                media_attachments=[],
                mentions=[],
                tags=[],
                emojis=[],
                reblogs_count=0,
                favourites_count=0,
                replies_count=0,
                in_reply_to_id=None,
                in_reply_to_account_id=None,
                reblog=original,
                poll=None,
                card=None,
                language=None,
                favourited=original.favourited,
                reblogged=original.reblogged,
                muted=False,
                bookmarked=original.bookmarked,
                pinned=False,
            )
        static = self._static(tweet)
        return m.Status(
            id=tweet.id,
            uri=static.uri,
            url=static.url,
            created_at=static.created_at,
            edited_at=None,
            account=account,
            content=static.content,
            visibility=tweet.visibility,
            sensitive=tweet.sensitive or bool(tweet.spoiler_text),
            spoiler_text=tweet.spoiler_text,
            media_attachments=[attachments[i] for i in tweet.media_ids if i in attachments],
            mentions=static.mentions,
            tags=static.tags,
            emojis=[],
            reblogs_count=tweet.counts.retweets,
            favourites_count=tweet.counts.likes,
            replies_count=tweet.counts.replies,
            in_reply_to_id=tweet.reply_to_id,
            in_reply_to_account_id=tweet.reply_to_author_id,
            reblog=None,
            poll=None,
            card=None,
            language=tweet.language,
            favourited=bool(viewer and viewer.liked),
            reblogged=bool(viewer and viewer.retweeted),
            muted=False,
            bookmarked=bool(viewer and viewer.bookmarked),
            pinned=tweet.pinned,
        )

    def _static(self, tweet: Tweet) -> _StaticPart:
        """The unchanging part of an original status (kept: tweets are never edited)."""
        key = (self.base, tweet.id)
        part = self._caches.static.get(key)
        if part is not None:
            return part
        handle = tweet.author.handle
        mention_urls = {
            x.handle.lower(): self.account_url(x.handle) for x in tweet.entities.mentions if x.user_id
        }
        uri = f"{self.base}/users/{handle}/statuses/{tweet.id}"
        url = f"{self.account_url(handle)}/{tweet.id}"
        created_at = timestamp(tweet.created_at)
        content = render(tweet.text, self.base, tweet.entities, mention_urls)
        mentions = [
            m.StatusMention(id=x.user_id, username=x.handle, url=self.account_url(x.handle), acct=x.handle)
            for x in tweet.entities.mentions
            if x.user_id is not None
        ]
        tags = [m.StatusTag(name=t, url=f"{self.base}/tags/{t}") for t in tweet.entities.hashtags]
        head = _head(
            {
                "id": tweet.id,
                "uri": uri,
                "url": url,
                "created_at": created_at,
                "edited_at": None,
                "content": content,
                "visibility": tweet.visibility,
                "sensitive": tweet.sensitive or bool(tweet.spoiler_text),
                "spoiler_text": tweet.spoiler_text,
                "mentions": mentions,
                "tags": tags,
                "emojis": [],
                "in_reply_to_id": tweet.reply_to_id,
                "in_reply_to_account_id": tweet.reply_to_author_id,
                "reblog": None,
                "poll": None,
                "card": None,
                "language": tweet.language,
                "muted": False,
            }
        )
        part = _StaticPart(uri, url, created_at, content, mentions, tags, head)
        self._caches.keep_static(key, part)
        return part

    # -------------------------------------------------------------------------- notifications

    def notification(
        self, item: NativeNotification, account: m.Account, status: m.Status | None
    ) -> m.Notification:
        kind = NOTIFICATION_TYPES[item.kind]
        common: dict[str, Any] = {
            "id": item.id,
            "type": kind,
            "group_key": f"ungrouped-{item.id}",
            "created_at": timestamp(item.created_at),
            "account": account,
        }
        if status is not None:
            return m.StatusNotification(**common, status=status)
        return m.Notification(**common)


def _head(fields: dict[str, Any]) -> bytes:
    """``fields`` as the start of a JSON object that goes on with ``"account":``."""
    return _encode(fields)[:-1] + b',"account":'


def relationship(native: NativeRelationship) -> m.Relationship:
    """Relationship (entities/Relationship.md) from the users module's answer."""
    return m.Relationship(
        id=native.target_id,
        following=native.following,
        showing_reblogs=native.following,
        notifying=False,
        languages=None,
        followed_by=native.followed_by,
        blocking=native.blocking,
        blocked_by=native.blocked_by,
        muting=native.muting,
        muting_notifications=native.muting,
        requested=False,
        requested_by=False,
        domain_blocking=False,
        endorsed=False,
        note="",
    )


__all__ = ["NOTIFICATION_TYPES", "Shaper", "base_url", "relationship", "timestamp"]


def _page_ids(tweets: list[Tweet], extra_accounts: Iterable[str] = ()) -> tuple[list[str], list[str]]:
    """The accounts (``extra_accounts``, each author, each reblogged author) and the media a page
    of statuses shows."""
    author_ids: list[str] = list(extra_accounts)
    media_ids: list[str] = []
    for tweet in tweets:
        author_ids.append(tweet.author.id)
        media_ids.extend(tweet.media_ids)
        if tweet.retweet_of is not None:
            author_ids.append(tweet.retweet_of.author.id)
            media_ids.extend(tweet.retweet_of.media_ids)
    return author_ids, media_ids
