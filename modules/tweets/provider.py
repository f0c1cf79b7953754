"""How the composition root makes the tweets service."""

from __future__ import annotations

from dishka import Provider, Scope, provide

from boundaries.media.port import MediaPort
from boundaries.tweets.port import TweetsPort
from boundaries.users.directory import UserDirectoryPort
from modules.tweets.consumer import TweetsConsumer
from modules.tweets.service import TweetsService
from twitterclone.infra.kernel import Kernel


class TweetsProvider(Provider):
    """One TweetsService per process, shared by the port and the consumer."""

    scope = Scope.APP

    @provide
    def service(self, kernel: Kernel, users: UserDirectoryPort, media: MediaPort) -> TweetsService:
        return TweetsService(
            kernel.store("tweets"),
            kernel.ids,
            users,
            max_length=kernel.settings.tweet_max_length,
            media=media,
            idempotency_ttl_s=kernel.settings.tweets_idempotency_ttl_s,
            # Live streams: wake-ups reach the other replicas through the deployment's Redis.
            live_redis=kernel.redis if kernel.has_redis else None,
            key_prefix=kernel.key_prefix,
        )

    @provide
    def port(self, service: TweetsService) -> TweetsPort:
        return service

    @provide
    def consumer(self, service: TweetsService) -> TweetsConsumer:
        return TweetsConsumer(service)
