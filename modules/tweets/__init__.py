"""The tweets module: tweets, replies, quotes, retweets, likes and search."""

from boundaries.tweets.port import TweetsPort
from modules.tweets.consumer import TweetsConsumer
from modules.tweets.provider import TweetsProvider
from twitterclone.infra.kernel import ModuleSpec

MODULE = ModuleSpec(name="tweets", port=TweetsPort, provider=TweetsProvider, consumer=TweetsConsumer)

__all__ = ["MODULE"]
