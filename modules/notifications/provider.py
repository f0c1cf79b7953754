"""Wiring: the notifications service as the NotificationsPort, and its consumer."""

from __future__ import annotations

from dishka import Provider, Scope, provide

from boundaries.notifications.port import NotificationsPort
from boundaries.users.directory import UserDirectoryPort
from modules.notifications.consumer import NotificationsConsumer
from modules.notifications.service import NotificationsService
from twitterclone.infra.kernel import Kernel


class NotificationsProvider(Provider):
    scope = Scope.APP

    @provide
    def service(self, kernel: Kernel, users: UserDirectoryPort) -> NotificationsService:
        return NotificationsService(
            kernel.store("notifications"),
            kernel.ids,
            users,
            # Live streams: wake-ups reach the other replicas through the deployment's Redis.
            redis=kernel.redis if kernel.has_redis else None,
            key_prefix=kernel.key_prefix,
        )

    @provide
    def port(self, service: NotificationsService) -> NotificationsPort:
        return service

    @provide
    def consumer(self, service: NotificationsService) -> NotificationsConsumer:
        return NotificationsConsumer(service)
