"""Errors the analytics port raises."""

from boundaries._kernel.errors import Forbidden, NotFound


class StatsNotFound(NotFound):
    code = "stats-not-found"


class NotStatsOwner(Forbidden):
    code = "not-stats-owner"
