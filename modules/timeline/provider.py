"""Wires the timeline module: its service (as TimelinePort) and its consumer."""

from __future__ import annotations

from dishka import Provider, Scope, provide

from boundaries.timeline.port import TimelinePort
from boundaries.tweets.port import TweetsPort
from boundaries.users.directory import UserDirectoryPort
from modules.timeline.consumer import TimelineConsumer
from modules.timeline.home import HomeTimelineStore, RedisHomeTimelines, SqlHomeTimelines
from modules.timeline.service import TimelineService
from twitterclone.infra.kernel import Kernel
from twitterclone.infra.store import ModuleStore

#: Where home timelines can be kept (manifest: ``[modules.timeline] options = { home_store = ... }``).
HOME_STORES = ("sql", "redis")


def home_store(kernel: Kernel, store: ModuleStore) -> HomeTimelineStore:
    """The home timeline store the manifest chose: the module's SQL tables (default) or Redis."""
    choice = kernel.options("timeline").get("home_store", "sql")
    if choice == "redis":
        return RedisHomeTimelines(kernel.redis, kernel.key_prefix, kernel.settings.home_timeline_size)
    if choice == "sql":
        return SqlHomeTimelines(store, kernel.settings.home_timeline_size)
    raise ValueError(f"timeline option home_store is {choice!r}; allowed: {', '.join(HOME_STORES)}")


class TimelineProvider(Provider):
    """One TimelineService per process, shared by the port and the consumer."""

    scope = Scope.APP

    @provide
    def service(self, kernel: Kernel, users: UserDirectoryPort, tweets: TweetsPort) -> TimelineService:
        store = kernel.store("timeline")
        return TimelineService(
            store, kernel.ids, kernel.settings, users, tweets, home=home_store(kernel, store)
        )

    @provide
    def port(self, service: TimelineService) -> TimelinePort:
        return service

    @provide
    def consumer(self, service: TimelineService) -> TimelineConsumer:
        return TimelineConsumer(service)
