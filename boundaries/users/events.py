"""Events the users module publishes."""

from boundaries._kernel.events import Event
from boundaries._kernel.ids import Id


class UserRegistered(Event, frozen=True, kw_only=True, tag=True):
    """A new account exists."""

    user_id: Id
    handle: str
    display_name: str


class ProfileUpdated(Event, frozen=True, kw_only=True, tag=True):
    """An account's public profile changed."""

    user_id: Id
    handle: str
    display_name: str
    bio: str


class UserFollowed(Event, frozen=True, kw_only=True, tag=True):
    """``follower_id`` now follows ``followee_id``."""

    follower_id: Id
    followee_id: Id
    #: The followee's follower count after this follow (None from versions that did not say it).
    followee_followers: int | None = None


class UserUnfollowed(Event, frozen=True, kw_only=True, tag=True):
    """``follower_id`` no longer follows ``followee_id``."""

    follower_id: Id
    followee_id: Id
    #: The followee's follower count after this unfollow (None from versions that did not say it).
    followee_followers: int | None = None
