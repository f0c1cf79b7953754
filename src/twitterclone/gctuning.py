"""Garbage-collector settings for a serving process (the gateway and every service process).

Measured on the monolith under load (BENCHMARKS.md, "Where the time goes"): with CPython's
defaults a full (generation 2) collection ran about every 2 s and stopped the event loop for
65-100 ms each time, because it walks every object the process holds (the app, SQLAlchemy's
and Litestar's structures, the caches), and those pauses were the whole p99. So once a process
has started:

- everything that exists then is frozen (``gc.freeze``): it lives as long as the process and a
  full collection no longer walks it;
- full collections are made rarer (the third threshold, 10 -> 100 young-generation passes);
  reference counting still frees almost everything at once, the collector is only for cycles.
"""

from __future__ import annotations

import gc
import logging
import os

log = logging.getLogger("twitterclone.gc")

#: (young objects before a collection, young collections per middle one, middle per full one).
SERVING_THRESHOLDS = (10_000, 10, 100)


def tune_for_serving() -> None:
    """Collect once, freeze what survived, and space out full collections.

    Only in a process that ``twitterclone run``/``serve`` started (it sets ``TWITTERCLONE_SERVICE``):
    an app built inside a test run must leave that process's collector as it is.
    """
    if not os.environ.get("TWITTERCLONE_SERVICE"):
        return
    gc.collect()
    gc.freeze()
    gc.set_threshold(*SERVING_THRESHOLDS)
    log.debug("gc tuned", extra={"frozen": gc.get_freeze_count(), "thresholds": SERVING_THRESHOLDS})
