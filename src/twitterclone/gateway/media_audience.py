"""Who may see an image shown in a followers-only or direct tweet: whoever may see that tweet.

The media module knows which tweet an image is in and whether anyone may see that tweet
(``audience_of``); who belongs to a restricted tweet's audience only the tweets module decides
(``modules/tweets/audience.py``, through ``TweetsPort.get``). Every face that serves an image
by its id (the native media routes, the Mastodon media route, the web client's image route)
asks here, so the rule is applied once, the same way everywhere. The media module cannot ask
the tweets module itself: tweets already depends on media (attachable checks), and a port
cycle would tie the two modules' construction together.

Images of open tweets, profile images and drafts cost no call: the media module answers for
them (drafts are their owner's alone).
"""

from __future__ import annotations

from boundaries._kernel.ids import Id
from boundaries.media.errors import MediaNotFound
from boundaries.tweets.errors import TweetNotFound
from boundaries.tweets.port import TweetsPort

#: Bytes that only a tweet's audience may see: no shared cache keeps them, and the browser asks
#: again (an unfollow ends a follower's access).
RESTRICTED_CACHE = "private, no-cache"


async def check_audience(tweets: TweetsPort, audience_of: Id | None, viewer_id: Id | None) -> None:
    """Raise MediaNotFound (as for an unknown image) unless the viewer may see the tweet
    ``audience_of`` names; nothing to ask when it is None."""
    if audience_of is None:
        return
    try:
        await tweets.get(audience_of, viewer_id)
    except TweetNotFound:
        raise MediaNotFound("no such media") from None


__all__ = ["RESTRICTED_CACHE", "check_audience"]
