"""Events while a consumer is behind and Redis restarts empty (issue 16, finding 1).

Notifications is hung (SIGSTOP), so the mention events of the posts made meanwhile wait in its
Redis stream; Redis is killed and restarted empty (the split manifest keeps nothing on disk);
notifications resumes. Every acknowledged post must still give its mention notification,
exactly once.

It failed before the outboxes kept published events to publish again (15 of 15 lost): the
outbox marked an event published once Redis had accepted it, so the events vanished with the
stream. Now the relays see that Redis lacks their epoch marker and publish again what they keep,
and notifications, re-creating its group, asks for its event types once more.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from tests.e2e.scenarios import eventually
from tests.faults.stack import split_stack

POSTS = 15

pytestmark = pytest.mark.slow


def test_no_event_is_lost_when_redis_restarts_empty_while_a_consumer_is_behind(tmp_path: Path) -> None:
    with split_stack(tmp_path, writers=1, readers=1) as stack:
        client, writer, mentioned = stack.client, stack.writers[0], stack.mentioned
        notifications = stack.process("notifications")
        stack.pause(notifications)
        try:
            posted: set[str] = set()
            for i in range(POSTS):
                headers = {**writer.headers, "Idempotency-Key": uuid.uuid4().hex}
                r = client.post(
                    "/api/tweets", json={"text": f"behind {i} @{mentioned.handle}"}, headers=headers
                )
                assert r.status_code == 201, r.text
                posted.add(r.json()["id"])
            time.sleep(2.0)  # the relays hand the events to Redis
            stack.redis.kill()
            stack.redis.start()
            time.sleep(3.0)  # every process notices Redis is back
        finally:
            stack.resume(notifications)

        def mentions() -> set[str]:
            r = client.get("/api/notifications?limit=100", headers=mentioned.headers)
            assert r.status_code == 200, r.text
            got = [n["tweet_id"] for n in r.json()["items"] if n["kind"] == "mention"]
            assert len(got) == len(set(got)), "a mention was notified twice"
            return set(got) & posted

        try:
            eventually(lambda: mentions() == posted, 60.0, "one mention notification per acknowledged post")
        except AssertionError:
            missing = len(posted - mentions())
            raise AssertionError(f"{missing} of {POSTS} mention notifications never arrived") from None
