"""Wiring: the analytics service as the AnalyticsPort, and its consumer."""

from __future__ import annotations

from dishka import Provider, Scope, provide

from boundaries.analytics.port import AnalyticsPort
from modules.analytics.consumer import AnalyticsConsumer
from modules.analytics.service import AnalyticsService
from twitterclone.infra.kernel import Kernel


class AnalyticsProvider(Provider):
    scope = Scope.APP

    @provide
    def service(self, kernel: Kernel) -> AnalyticsService:
        return AnalyticsService(kernel.store("analytics"))

    @provide
    def port(self, service: AnalyticsService) -> AnalyticsPort:
        return service

    @provide
    def consumer(self, service: AnalyticsService) -> AnalyticsConsumer:
        return AnalyticsConsumer(service)
