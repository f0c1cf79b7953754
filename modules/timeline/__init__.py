"""Home timelines (fan-out on write, hybrid for popular authors) and user timelines."""

from boundaries.timeline.port import TimelinePort
from modules.timeline.consumer import TimelineConsumer
from modules.timeline.provider import TimelineOptions, TimelineProvider
from twitterclone.infra.kernel import ModuleSpec

MODULE = ModuleSpec(
    name="timeline",
    port=TimelinePort,
    provider=TimelineProvider,
    consumer=TimelineConsumer,
    options=TimelineOptions,
)

__all__ = ["MODULE"]
