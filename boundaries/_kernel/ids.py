"""Identifiers as they travel: Snowflake ids are 64-bit integers sent as decimal strings."""

from typing import Annotated

import msgspec

#: A Snowflake id (41-bit ms time, 10-bit worker, 12-bit sequence) as a decimal string.
Id = Annotated[
    str,
    msgspec.Meta(pattern=r"^[0-9]{1,20}$", description="A 64-bit id as a decimal string."),
]


def is_id(value: str) -> bool:
    """Tell whether ``value`` is a well-formed id string."""
    return value.isascii() and value.isdigit() and 0 < len(value) <= 20 and int(value) < 2**63
