"""Every integration event type, so any process can decode any event by its tag."""

from boundaries._kernel.events import Event
from boundaries.media.events import MediaUploaded
from boundaries.timeline.events import TimelineServed
from boundaries.tweets.events import Retweeted, TweetDeleted, TweetLiked, TweetPosted, TweetUnliked
from boundaries.users.events import ProfileUpdated, UserFollowed, UserRegistered, UserUnfollowed

EVENT_TYPES: tuple[type[Event], ...] = (
    UserRegistered,
    ProfileUpdated,
    UserFollowed,
    UserUnfollowed,
    TweetPosted,
    TweetDeleted,
    TweetLiked,
    TweetUnliked,
    Retweeted,
    TimelineServed,
    MediaUploaded,
)
