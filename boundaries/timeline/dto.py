"""Data the timeline module returns."""

import msgspec

from boundaries._kernel.ids import Id


class RebuildResult(msgspec.Struct, frozen=True, kw_only=True):
    """How many entries a rebuilt home timeline holds."""

    entries: int


class HomeChanges(msgspec.Struct, frozen=True, kw_only=True):
    """What a home timeline gained and lost since a position (for live streams).

    ``added``: tweet ids that entered it, oldest first; ``removed``: ids of deleted tweets it may
    have held; ``position``: where to resume (opaque; pass it to the next call).
    """

    added: list[Id] = msgspec.field(default_factory=list)
    removed: list[Id] = msgspec.field(default_factory=list)
    position: str
