"""Wires the timeline module: its service (as TimelinePort) and its consumer."""

from __future__ import annotations

from dishka import Provider, Scope, provide

from boundaries.timeline.port import TimelinePort
from boundaries.tweets.port import TweetsPort
from boundaries.users.port import UsersPort
from modules.timeline.consumer import TimelineConsumer
from modules.timeline.service import TimelineService
from twitterclone.infra.kernel import Kernel


class TimelineProvider(Provider):
    """One TimelineService per process, shared by the port and the consumer."""

    scope = Scope.APP

    @provide
    def service(self, kernel: Kernel, users: UsersPort, tweets: TweetsPort) -> TimelineService:
        return TimelineService(kernel.store("timeline"), kernel.ids, kernel.settings, users, tweets)

    @provide
    def port(self, service: TimelineService) -> TimelinePort:
        return service

    @provide
    def consumer(self, service: TimelineService) -> TimelineConsumer:
        return TimelineConsumer(service)
