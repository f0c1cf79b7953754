"""Wiring: the users service as UsersPort and as the narrow UserDirectoryPort, for the composition root."""

from __future__ import annotations

from dishka import AnyOf, Provider, Scope, provide

from boundaries.media.port import MediaPort
from boundaries.users.directory import UserDirectoryPort
from boundaries.users.port import UsersPort
from modules.users.service import UsersService
from twitterclone.infra.kernel import Kernel


class UsersProvider(Provider):
    scope = Scope.APP

    @provide
    def users(self, kernel: Kernel, media: MediaPort) -> AnyOf[UsersPort, UserDirectoryPort]:
        # One service object answers both ports (the gateway asks for the whole port, other
        # modules for the narrow one). Media checks the images a profile shows.
        return UsersService(kernel.store("users"), kernel.ids, kernel.settings, media)
