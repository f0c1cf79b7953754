"""The fault suite runs on its own (``make faults``), not in ``make test``'s pytest run.

It takes minutes, starts its own Redis and PostgreSQL, and kills them; ``make faults`` sets
``TWITTERCLONE_FAULTS`` to the test files to collect (``test_faults.py`` by default).
"""

from __future__ import annotations

import os

_wanted = {f.strip() for f in os.environ.get("TWITTERCLONE_FAULTS", "").split(",") if f.strip()}
collect_ignore_glob = [] if _wanted else ["test_*.py"]
collect_ignore = [
    name for name in ("test_faults.py", "test_event_loss.py") if _wanted and name not in _wanted
]
