"""Errors the tweets port raises."""

from boundaries._kernel.errors import Conflict, Forbidden, InvalidInput, NotFound


class TweetNotFound(NotFound):
    code = "tweet-not-found"


class TweetTooLong(InvalidInput):
    code = "tweet-too-long"


class EmptyTweet(InvalidInput):
    code = "empty-tweet"


class NotTweetAuthor(Forbidden):
    code = "not-tweet-author"


class IdempotencyKeyReused(Conflict):
    code = "idempotency-key-reused"


class InvalidMedia(InvalidInput):
    code = "invalid-media"


class TweetNotShareable(Forbidden):
    """Retweeting or quoting a followers-only or direct tweet would widen its audience."""

    code = "tweet-not-shareable"


class TooManyPins(InvalidInput):
    """Pinning past the cap (``MAX_PINS``): unpin one first."""

    code = "too-many-pins"


class NotPinnable(InvalidInput):
    """Only one's own tweets (not retweets) can be pinned."""

    code = "not-pinnable"


class InvalidLanguage(InvalidInput):
    code = "invalid-language"


class SpoilerTooLong(InvalidInput):
    code = "spoiler-too-long"
