"""Wiring: the users service as the UsersPort, for the composition root."""

from __future__ import annotations

from dishka import Provider, Scope, provide

from boundaries.users.port import UsersPort
from modules.users.service import UsersService
from twitterclone.infra.kernel import Kernel


class UsersProvider(Provider):
    scope = Scope.APP

    @provide
    def users(self, kernel: Kernel) -> UsersPort:
        return UsersService(kernel.store("users"), kernel.ids, kernel.settings)
