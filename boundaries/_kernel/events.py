"""The base of every integration event."""

from datetime import datetime

import msgspec

from boundaries._kernel.ids import Id


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Something that happened in one module that others may care about.

    Subclasses are tagged (the tag is the class name, in the past tense), carry a unique
    ``event_id`` (consumers dedupe on it) and the time it happened.
    """

    event_id: Id
    occurred_at: datetime
