"""Data the timeline module returns."""

import msgspec


class RebuildResult(msgspec.Struct, frozen=True, kw_only=True):
    """How many entries a rebuilt home timeline holds."""

    entries: int
