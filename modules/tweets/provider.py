"""How the composition root makes the tweets service."""

from __future__ import annotations

from dishka import Provider, Scope, provide

from boundaries.media.port import MediaPort
from boundaries.tweets.port import TweetsPort
from boundaries.users.directory import UserDirectoryPort
from modules.tweets.service import TweetsService
from twitterclone.infra.kernel import Kernel


class TweetsProvider(Provider):
    """Provides ``TweetsPort`` (the local service) from the kernel, the users and the media ports."""

    scope = Scope.APP

    @provide
    def tweets(self, kernel: Kernel, users: UserDirectoryPort, media: MediaPort) -> TweetsPort:
        return TweetsService(
            kernel.store("tweets"),
            kernel.ids,
            users,
            max_length=kernel.settings.tweet_max_length,
            media=media,
        )
