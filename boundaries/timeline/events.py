"""Events the timeline module publishes."""

from boundaries._kernel.events import Event
from boundaries._kernel.ids import Id


class TimelineServed(Event, frozen=True, kw_only=True, tag=True):
    """Tweets were shown in timelines (impressions), batched over a short interval.

    ``counts[i]`` is how many viewers were shown ``tweet_ids[i]`` in the batch. The timeline
    module sums one batch over every viewer, so one event stands for many reads; an event
    with ``viewer_id`` and no ``counts`` (one viewer, one impression per id) is the older
    shape and is still understood.
    """

    tweet_ids: list[Id]
    counts: list[int] | None = None
    viewer_id: Id | None = None

    def impressions(self) -> list[tuple[Id, int]]:
        """(tweet id, impressions) pairs, whichever shape the event has."""
        if self.counts is None:
            return [(t, 1) for t in self.tweet_ids]
        return list(zip(self.tweet_ids, self.counts, strict=False))
