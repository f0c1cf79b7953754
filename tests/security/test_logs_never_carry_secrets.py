"""Logs never contain passwords, tokens or secrets (login, refresh and OAuth token requests).

Every log record of the process — twitterclone's JSON lines and anything on the root logger
(httpx, litestar) — is captured at DEBUG while a user logs in (right and wrong password, and a
malformed body), refreshes, and an OAuth client trades a code and a refresh token; then none
of the secrets involved may appear in any of it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from tests.api.oauth_support import REDIRECT, code_for, pkce, register_client, token
from tests.conftest import Api
from twitterclone.logs import JsonFormatter

PASSWORD = "correct horse battery"
WRONG_PASSWORD = "Tr0ub4dor&3-wrong"


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))
        self.lines.append(repr(record.__dict__))  # the raw record too: args, extras, exc_info


@pytest.fixture
def logs() -> Iterator[Capture]:
    capture = Capture()
    loggers = [logging.getLogger(), logging.getLogger("twitterclone")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(capture)
        logger.setLevel(logging.DEBUG)
    yield capture
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(capture)
        logger.setLevel(level)


def test_login_refresh_and_oauth_token_requests_leave_no_secret_in_logs(
    client: TestClient[Litestar], api: Api, logs: Capture, capfd: pytest.CaptureFixture[str]
) -> None:
    secrets: list[str] = [PASSWORD, WRONG_PASSWORD]
    alice = api.user("alice")
    # Login: right password, wrong password, and a body the server cannot decode.
    tokens = api.login("alice", PASSWORD)
    assert (
        client.post("/api/auth/login", json={"login": "alice", "password": WRONG_PASSWORD}).status_code == 401
    )
    broken = '{"login": "alice", "password": "' + WRONG_PASSWORD + '", }'
    assert (
        client.post(
            "/api/auth/login", content=broken, headers={"content-type": "application/json"}
        ).status_code
        == 400
    )
    secrets += [tokens["access_token"], tokens["refresh_token"]]
    # Refresh (and a replayed, rejected refresh token).
    rotated = client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert rotated.status_code == 200, rotated.text
    secrets += [rotated.json()["access_token"], rotated.json()["refresh_token"]]
    assert (
        client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code == 401
    )
    # OAuth: a confidential client trades a code (with PKCE), then refreshes.
    app = register_client(client, alice, confidential=True, scopes=["read"])
    secrets.append(app["client_secret"])
    verifier, challenge = pkce()
    code = code_for(client, app["client_id"], challenge, "alice")
    secrets += [code, verifier]
    issued = token(
        client,
        auth=(app["client_id"], app["client_secret"]),
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        code_verifier=verifier,
    )
    assert issued.status_code == 200, issued.text
    secrets += [issued.json()["access_token"], issued.json()["refresh_token"]]
    refreshed = token(
        client,
        auth=(app["client_id"], app["client_secret"]),
        grant_type="refresh_token",
        refresh_token=issued.json()["refresh_token"],
    )
    assert refreshed.status_code == 200, refreshed.text
    secrets += [refreshed.json()["access_token"], refreshed.json()["refresh_token"]]
    wrong_secret = token(
        client,
        auth=(app["client_id"], "not-the-secret-" + "x" * 20),
        grant_type="refresh_token",
        refresh_token=refreshed.json()["refresh_token"],
    )
    assert wrong_secret.status_code in {400, 401}
    secrets.append("not-the-secret-" + "x" * 20)

    out, err = capfd.readouterr()
    text = "\n".join(logs.lines) + out + err
    assert "/api/auth/login" in text
    assert "/oauth/token" in text
    assert len(logs.lines) > 20
    leaked = [s[:12] + "…" for s in secrets if s in text]
    assert leaked == []
    # Fragments too: the signature part of a JWT is as good as the JWT for some attacks.
    for jwt_ in (tokens["access_token"], issued.json()["access_token"]):
        assert jwt_.rsplit(".", 1)[1] not in text
