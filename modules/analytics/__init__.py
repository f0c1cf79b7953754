"""The analytics module: engagement counters, daily user stats and trending hashtags, from events."""

from boundaries.analytics.port import AnalyticsPort
from modules.analytics.consumer import AnalyticsConsumer
from modules.analytics.provider import AnalyticsProvider
from twitterclone.infra.kernel import ModuleSpec

MODULE = ModuleSpec(
    name="analytics", port=AnalyticsPort, provider=AnalyticsProvider, consumer=AnalyticsConsumer
)

__all__ = ["MODULE"]
