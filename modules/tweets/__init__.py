"""The tweets module: tweets, replies, quotes, retweets, likes and search."""

from boundaries.tweets.port import TweetsPort
from modules.tweets.provider import TweetsProvider
from twitterclone.infra.kernel import ModuleSpec

MODULE = ModuleSpec(name="tweets", port=TweetsPort, provider=TweetsProvider, consumer=None)

__all__ = ["MODULE"]
