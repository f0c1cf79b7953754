"""Infrastructure helpers that modules may use: ids, stores, outbox/inbox, events, cursors.

Nothing here knows any module; the composition root wires them together.
"""
