"""Events the timeline module publishes."""

from boundaries._kernel.events import Event
from boundaries._kernel.ids import Id


class TimelineServed(Event, frozen=True, kw_only=True, tag=True):
    """Tweets were shown in timelines (impressions), batched over a short interval.

    ``counts[i]`` is how many times ``tweet_ids[i]`` was shown in the batch: the timeline module
    sums one batch over every viewer, so one event stands for many reads.
    """

    tweet_ids: list[Id]
    counts: list[int]

    def impressions(self) -> list[tuple[Id, int]]:
        """(tweet id, impressions) pairs."""
        return list(zip(self.tweet_ids, self.counts, strict=False))
