"""Handles: how a typed handle is normalised, and the skeleton that catches ASCII look-alikes.

NFKC folds full-width and styled forms onto the ASCII they imitate, and the ASCII-only rule
refuses every other script; what is left are look-alikes made of ASCII itself (``a1ice``,
``aIice``, ``rnary``). ``handle_skeleton`` maps a handle to the prototype of its look-alike
class, in the spirit of the "skeleton" of Unicode TR39 (section 4) but for the only characters
a handle may hold. Two handles with the same skeleton look alike, so the second to register is
refused as too similar to the first. Lookups by handle stay exact (ignoring case only).

The classes (after lower-casing, because a handle is shown in the case its owner typed):

- ``0`` and ``o``: differ only in width in most UI fonts.
- ``1``, ``l`` and ``i``: ``1``, ``l`` and capital ``I`` are one vertical stroke in common
  sans-serif fonts; ``I`` lower-cases to ``i``, so ``i`` joins the class.
- ``m`` and ``rn``, ``w`` and ``vv``, ``d`` and ``cl``: pairs that read as one letter when kerned
  tight (TR39 lists each).

Underscores are kept (``a_b`` is not ``ab``). Left out on purpose: ``5``/``S``, ``2``/``Z``,
``8``/``B``, ``6``/``b``, ``9``/``g``: their strokes differ visibly, and folding them would refuse
many honest handles with numbers in them. A false positive costs a user one more try at
choosing a handle; a false negative lets someone pass for another account.

Changing the table changes stored skeletons: it needs a migration that recomputes them (see
``migrations/users/versions/0003_users_handle_skeleton.py``, which carries its own copy; a test
keeps the two equal).
"""

from __future__ import annotations

import unicodedata

#: Each character to the prototype of its look-alike class (characters not listed stand for themselves).
CONFUSABLES: dict[str, str] = {
    "0": "o",
    "1": "l",
    "i": "l",
    "m": "rn",
    "w": "vv",
    "d": "cl",
}

#: The longest skeleton: every character of a 15-character handle may expand to two.
MAX_SKELETON = 30

_FOLD = str.maketrans(CONFUSABLES)


def normalise_handle(handle: str) -> str:
    """NFKC before the ASCII-only rule: full-width or styled look-alikes (U+FF41 for "a") become
    the ASCII they imitate (and then collide with it, ignoring case); other scripts stay
    non-ASCII and are refused, so no handle can mix in a Cyrillic U+0430 to pass for another."""
    return unicodedata.normalize("NFKC", handle).strip()


def handle_skeleton(handle: str) -> str:
    """The look-alike class of a (normalised) handle: equal skeletons look alike."""
    return handle.lower().translate(_FOLD)
