"""Wires the timeline module: its service (as TimelinePort) and its consumer."""

from __future__ import annotations

from typing import Literal

from dishka import Provider, Scope, provide

from boundaries.timeline.port import TimelinePort
from boundaries.tweets.port import TweetsPort
from boundaries.users.directory import UserDirectoryPort
from modules.timeline.consumer import TimelineConsumer
from modules.timeline.home import HomeTimelineStore, RedisHomeTimelines, SqlHomeTimelines
from modules.timeline.service import TimelineService
from twitterclone.infra.kernel import Kernel, ModuleOptions
from twitterclone.infra.store import ModuleStore


class TimelineOptions(ModuleOptions, frozen=True):
    """The timeline module's choices (manifest: ``[modules.timeline] options = { home_store = ... }``)."""

    #: Where home timelines are kept: the module's SQL tables, or Redis (derived data, rebuildable).
    home_store: Literal["sql", "redis"] = "sql"

    def needs_redis(self) -> bool:
        return self.home_store == "redis"


def home_store(kernel: Kernel, store: ModuleStore) -> HomeTimelineStore:
    """The home timeline store the manifest chose: the module's SQL tables (default) or Redis."""
    if kernel.options("timeline", TimelineOptions).home_store == "redis":
        return RedisHomeTimelines(kernel.redis, kernel.key_prefix, kernel.settings.home_timeline_size)
    return SqlHomeTimelines(store, kernel.settings.home_timeline_size)


class TimelineProvider(Provider):
    """One TimelineService per process, shared by the port and the consumer."""

    scope = Scope.APP

    @provide
    def service(self, kernel: Kernel, users: UserDirectoryPort, tweets: TweetsPort) -> TimelineService:
        store = kernel.store("timeline")
        return TimelineService(
            store,
            kernel.ids,
            kernel.settings,
            users,
            tweets,
            home=home_store(kernel, store),
            # Live streams: wake-ups reach the other replicas through the deployment's Redis.
            live_redis=kernel.redis if kernel.has_redis else None,
            key_prefix=kernel.key_prefix,
        )

    @provide
    def port(self, service: TimelineService) -> TimelinePort:
        return service

    @provide
    def consumer(self, service: TimelineService) -> TimelineConsumer:
        return TimelineConsumer(service)
