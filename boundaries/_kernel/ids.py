"""Identifiers as they travel: Snowflake ids are 64-bit integers sent as decimal strings.

An id has exactly one spelling, its canonical decimal form: ``0123`` is not ``123``. Every
module parses ids with ``parse_id`` (or checks them with ``is_id``), so no second spelling
reaches a comparison or a query, and two ids are equal exactly when their strings are.
"""

from collections.abc import Iterable
from typing import Annotated

import msgspec

#: The largest id: Snowflakes are signed 64-bit integers, never negative.
MAX_ID = 2**63 - 1

#: A Snowflake id (41-bit ms time, 10-bit worker, 12-bit sequence) as a decimal string.
Id = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^(0|[1-9][0-9]{0,18})$",
        description="A 64-bit id as a decimal string (canonical: no leading zeros).",
    ),
]


def is_id(value: str) -> bool:
    """Tell whether ``value`` is an id in its canonical spelling (no sign, no leading zero)."""
    return (
        isinstance(value, str)
        and value.isascii()
        and value.isdigit()
        and 0 < len(value) <= 19
        and (value[0] != "0" or value == "0")
        and int(value) <= MAX_ID
    )


#: Canonical id strings ``parse_ids`` saw lately, and their integers: whether a string is a
#: canonical id, and which, never changes, so this is a memo that cannot go stale. Bounded: it
#: starts over once it holds ``_PARSED_MAX``.
_PARSED: dict[str, int] = {}
_PARSED_MAX = 16_384


def parse_ids(values: Iterable[object]) -> list[int]:
    """The integers the canonical ids among ``values`` stand for, each once, first seen first.

    ``is_id`` for a whole page of ids in one loop: hydration converts twenty or more per read,
    mostly the same ids read after read, which the memo answers with one lookup.
    """
    found: dict[int, None] = {}
    parsed = _PARSED
    for value in values:
        number = parsed.get(value) if value.__class__ is str else None
        if number is None:
            if not (
                isinstance(value, str)
                and value.isascii()
                and value.isdigit()
                and 0 < len(value) <= 19
                and (value[0] != "0" or value == "0")
            ):
                continue
            number = int(value)
            if number > MAX_ID:
                continue
            if value.__class__ is str:
                if len(parsed) >= _PARSED_MAX:
                    parsed.clear()
                parsed[value] = number
        found[number] = None
    return list(found)


def parse_id(value: object) -> int | None:
    """The integer an id string stands for; None when ``value`` is not a canonical id."""
    return int(value) if isinstance(value, str) and is_id(value) else None
