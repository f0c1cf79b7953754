"""OWASP API4:2023 Unrestricted Resource Consumption: image work and stored idempotency keys.

A small file may declare a picture that takes hundreds of megabytes once decoded; image work
must be bounded (decoded size checked from the header, a bounded number of jobs, its own
threads) so that uploads cannot starve logins. Idempotency keys are kept for a window, not
forever.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from modules.media import service as media_service
from tests.conftest import Api
from tests.security.conftest import MakeClient
from tests.security.test_api1_drafts_and_canonical_ids import png
from tests.support.images import expanding_png
from twitterclone.settings import Settings


def test_an_image_that_expands_past_the_decoded_budget_is_refused_unread(
    client: TestClient[Litestar], api: Api
) -> None:
    alice = api.user("alice")
    bomb = expanding_png(6300, 6300)  # 39.7 megapixels (under the pixel cap), 159 MB decoded
    assert len(bomb) < 200_000
    started = time.perf_counter()
    r = client.post("/api/media", files={"file": ("a.png", bomb, "image/png")}, headers=alice.headers)
    elapsed = time.perf_counter() - started
    assert r.status_code == 413, r.text
    body = r.json()
    assert body["type"] == "/problems/media-too-large"
    assert "decoded" in body["detail"]
    assert elapsed < 1.0  # refused from the header, not after decoding


def test_logins_stay_responsive_while_uploads_hold_the_image_workers(
    client: TestClient[Litestar], api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = api.user("alice")
    release = threading.Event()

    real_image_work = media_service.process_image

    def slow_image_work(*args: Any, **kwargs: Any) -> Any:
        release.wait(20)  # an expensive decode, as long as the test wants
        return real_image_work(*args, **kwargs)

    monkeypatch.setattr(media_service, "process_image", slow_image_work)
    statuses: list[int] = []

    def send_upload() -> None:
        r = client.post("/api/media", files={"file": ("a.png", png(), "image/png")}, headers=alice.headers)
        statuses.append(r.status_code)

    uploads = [threading.Thread(target=send_upload) for _ in range(12)]
    login: dict[str, Any] = {}

    def log_in() -> None:
        started = time.perf_counter()
        login["status"] = client.post(
            "/api/auth/login", json={"login": "alice", "password": "correct horse battery"}
        ).status_code
        login["seconds"] = time.perf_counter() - started

    try:
        for t in uploads:
            t.start()
        time.sleep(0.5)  # every upload has reached the image work (or been turned away)
        logging_in = threading.Thread(target=log_in)
        logging_in.start()
        logging_in.join(5)
        assert login.get("status") == 200, "a login waited behind image work"
        assert login["seconds"] < 2.0
    finally:
        release.set()
        for t in uploads:
            t.join(20)
    # Uploads past the bound were turned away at once, with a problem that says so.
    assert set(statuses) <= {201, 503}


def test_an_idempotency_key_is_forgotten_after_its_window(
    client: TestClient[Litestar], api: Api, settings: Settings
) -> None:
    alice = api.user("alice")
    headers = {**alice.headers, "Idempotency-Key": "k-1"}
    first = client.post("/api/tweets", json={"text": "once"}, headers=headers)
    assert first.status_code == 201, first.text
    again = client.post("/api/tweets", json={"text": "once"}, headers=headers)
    assert again.json()["id"] == first.json()["id"]  # within the window: the same tweet

    # A day and a bit passes (the key's row is aged in place).
    with closing(sqlite3.connect(settings.data_path / "tweets.db")) as db:
        db.execute("UPDATE idempotency_keys SET created_at = '2000-01-01 00:00:00.000000'")
        db.commit()
    later = client.post("/api/tweets", json={"text": "once"}, headers=headers)
    assert later.status_code == 201, later.text
    assert later.json()["id"] != first.json()["id"]
    other_body = client.post("/api/tweets", json={"text": "something else"}, headers=headers)
    assert other_body.status_code == 409  # the key is live again, for the new tweet


def test_expired_idempotency_keys_are_removed(make_client: MakeClient, tmp_path: Path) -> None:
    client = make_client(tweets_idempotency_ttl_s=3)
    api = Api(client)
    alice = api.user("alice")
    for n in range(3):
        headers = {**alice.headers, "Idempotency-Key": f"k-{n}"}
        assert client.post("/api/tweets", json={"text": f"t{n}"}, headers=headers).status_code == 201

    def stored() -> int:
        with closing(sqlite3.connect(tmp_path / "data1" / "tweets.db")) as db:
            return int(db.execute("SELECT count(*) FROM idempotency_keys").fetchone()[0])

    assert stored() == 3
    api.eventually(lambda: stored() == 0, 8.0)  # the tweets module's cleanup job
