"""Events the timeline module publishes."""

from boundaries._kernel.events import Event
from boundaries._kernel.ids import Id


class TimelineServed(Event, frozen=True, kw_only=True, tag=True):
    """Tweets were shown to a viewer (impressions), batched."""

    viewer_id: Id
    tweet_ids: list[Id]
