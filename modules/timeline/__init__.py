"""Home timelines (fan-out on write, hybrid for popular authors) and user timelines."""

from boundaries.timeline.port import TimelinePort
from modules.timeline.consumer import TimelineConsumer
from modules.timeline.provider import TimelineProvider
from twitterclone.infra.kernel import ModuleSpec

MODULE = ModuleSpec(name="timeline", port=TimelinePort, provider=TimelineProvider, consumer=TimelineConsumer)

__all__ = ["MODULE"]
