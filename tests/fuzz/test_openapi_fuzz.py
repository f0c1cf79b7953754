"""Property-based fuzzing of the whole OpenAPI document with schemathesis (part of `make test`).

Every operation of the gateway's own document gets a bounded number of generated requests —
valid ones (positive) and invalid ones (negative) — sent in-process through the Litestar test
client with a real user's bearer token. Each response must not be a 5xx, must have a status code
the document lists for the operation (the error answers are derived per route, see
``twitterclone.gateway.problems.document_errors``), and must match the documented schema for
that status. Counts are printed at the end, with the status codes seen.
``TWITTERCLONE_FUZZ_EXAMPLES`` changes the examples per operation; ``TWITTERCLONE_FUZZ_ONLY``
narrows the run to the paths under one prefix (a quicker run while working on one face).
"""

from __future__ import annotations

import asyncio
import copy
import os
import re
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, reject, settings
from hypothesis.errors import Unsatisfiable
from litestar.testing import TestClient
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from tests.conftest import FAST_ARGON2, MONOLITH, migrate_all
from twitterclone.gateway.app import create_app
from twitterclone.manifest import load_manifest
from twitterclone.settings import Settings

EXAMPLES = int(os.environ.get("TWITTERCLONE_FUZZ_EXAMPLES", "12"))
#: Fuzz only the operations whose path starts with this (e.g. "/api/v1"); all when unset.
ONLY = os.environ.get("TWITTERCLONE_FUZZ_ONLY", "")
#: Server-sent events never end: a request would block the run (tests/mastodon_clients and the
#: notification stream tests drive them; /api/v1/streaming/health answers and stays fuzzed).
SKIP = {
    ("GET", "/api/notifications/stream"),
    *(
        ("GET", f"/api/v1/streaming/{stream}")
        for stream in ("user", "user/notification", "public", "public/local", "hashtag", "hashtag/local")
    ),
}
#: Budgets high enough that the fuzzer is never rate limited (the limiter stays on the path).
OPEN_BUDGETS: dict[str, Any] = {
    name: "1000000/60"
    for name in (
        "rate_address",
        "rate_user",
        "rate_login_address",
        "rate_login_account",
        "rate_register_address",
        "rate_token_address",
        "rate_post_user",
        "rate_post_hourly",
        "rate_follow_user",
        "rate_follow_hourly",
    )
}


def _checks() -> list[CheckFunction]:
    return [not_a_server_error, status_code_conformance, response_schema_conformance]


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    return value.encode() if isinstance(value, str) else str(value).encode()


def _files(files: Any) -> Any:
    """requests-style files (any generated value) as httpx accepts them (bytes content)."""
    if not files:
        return None
    items = files.items() if isinstance(files, dict) else files
    out = []
    for name, value in items:
        if isinstance(value, tuple):
            filename, content, *rest = value
            out.append((name, (filename, _as_bytes(content), *rest)))
        else:
            out.append((name, ("file", _as_bytes(value))))
    return out


def _send(client: TestClient[Any], case: Any, headers: dict[str, str]) -> httpx.Response:
    kwargs = case.as_transport_kwargs(base_url="http://testserver.local", headers=headers)
    request: dict[str, Any] = {
        "method": kwargs["method"],
        "url": kwargs["url"],
        "headers": kwargs.get("headers"),
        "params": kwargs.get("params"),
        "cookies": kwargs.get("cookies") or None,
        "files": _files(kwargs.get("files")),
    }
    if "json" in kwargs:
        request["json"] = kwargs["json"]
    data = kwargs.get("data")
    if isinstance(data, (bytes, str)):
        request["content"] = data
    elif data is not None:
        request["data"] = data
    try:
        built = client.build_request(**{k: v for k, v in request.items() if v is not None})
        built.read()  # multipart bodies are streamed; schemathesis reads the request back
    except (TypeError, ValueError, AttributeError):
        # httpx cannot encode this generated request at all (e.g. a non-bytes file part): it never
        # reaches the server, so there is nothing to check.
        reject()
    return client.send(built)


def _origin(exc: BaseException) -> str:
    """Where a non-schemathesis error came from (the last frames), to make it diagnosable."""
    if isinstance(exc, FailureGroup):
        return ""
    return "\n" + "".join(traceback.format_exception(exc)[-4:])[-1500:]


def _runner(
    strategy: Any,
    client: TestClient[Any],
    auth: dict[str, str],
    checks: list[CheckFunction],
    counts: dict[str, int],
    key: str,
    statuses: Counter[int],
) -> Any:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        counts[key] += 1
        response = _send(client, case, auth)
        statuses[response.status_code] += 1
        case.validate_response(response, checks=checks, headers=auth)

    return run


def test_every_operation_survives_fuzzing(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    manifest = load_manifest(MONOLITH)
    app_settings = Settings(
        data_dir=str(tmp_path / "data"), manifest=str(MONOLITH), **FAST_ARGON2, **OPEN_BUDGETS
    )
    asyncio.run(migrate_all(manifest, app_settings))
    failures: dict[str, str] = {}
    counts: dict[str, int] = {}
    statuses: Counter[int] = Counter()
    started = time.monotonic()
    with TestClient(create_app(app_settings, manifest)) as client:
        body = {"handle": "fuzzer", "email": "fuzzer@example.org", "password": "correct horse battery"}
        assert client.post("/api/auth/register", json=body).status_code == 201
        login = client.post("/api/auth/login", json={"login": "fuzzer", "password": "correct horse battery"})
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
        schema = schemathesis.openapi.from_dict(client.get("/schema/openapi.json").json())
        checks = _checks()
        operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
        assert len(operations) > 40
        for operation in operations:
            if (operation.method.upper(), operation.path) in SKIP or not operation.path.startswith(ONLY):
                continue
            label = f"{operation.method.upper()} {operation.path}"
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                key = f"{label} [{mode.value}]"
                counts[key] = 0

                strategy = operation.as_strategy(generation_mode=mode)
                run = _runner(strategy, client, auth, checks, counts, key, statuses)
                try:
                    run()
                except Unsatisfiable:
                    pass  # no invalid request exists for this operation (e.g. no parameters at all)
                except (FailureGroup, AssertionError, Exception) as exc:
                    failures[key] = f"{type(exc).__name__}: {exc}"[:1500] + _origin(exc)

    elapsed = time.monotonic() - started
    summary = (
        f"schemathesis: {len({k.rsplit(' [', 1)[0] for k in counts})} operations, {len(counts)} runs, "
        f"{sum(counts.values())} examples in {elapsed:.0f}s; {len(failures)} failing runs; statuses "
        + ", ".join(f"{status}: {n}" for status, n in sorted(statuses.items()))
    )
    # Shown in every run (not only failing ones): outside pytest's output capture.
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line("")
            reporter.write_line(summary)
    print(summary)
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in sorted(failures.items()))


def test_status_code_conformance_refuses_an_undocumented_answer(tmp_path: Path) -> None:
    """The check above can fail: drop 404 from one operation and its real 404 is caught."""
    manifest = load_manifest(MONOLITH)
    app_settings = Settings(data_dir=str(tmp_path / "data"), manifest=str(MONOLITH), **FAST_ARGON2)
    asyncio.run(migrate_all(manifest, app_settings))
    with TestClient(create_app(app_settings, manifest)) as client:
        document = client.get("/schema/openapi.json").json()
        responses = document["paths"]["/api/users/{user_id}"]["get"]["responses"]
        assert "404" in responses
        honest = schemathesis.openapi.from_dict(copy.deepcopy(document))
        del responses["404"]
        dishonest = schemathesis.openapi.from_dict(document)
        for schema, conforms in ((honest, True), (dishonest, False)):
            operation = schema["/api/users/{user_id}"]["GET"]
            case = operation.Case(path_parameters={"user_id": "4242"})
            response = _send(client, case, {})
            assert response.status_code == 404
            if conforms:
                case.validate_response(response, checks=[status_code_conformance])
            else:
                with pytest.raises(FailureGroup, match="404"):
                    case.validate_response(response, checks=[status_code_conformance])


#: The Mastodon adapter's prefixes (docs/mastodon.md): every route under them must be fuzzed.
MASTODON_PREFIXES = ("/api/v1/", "/api/v2/", "/oauth/")


def test_the_fuzzed_document_holds_every_mastodon_route(tmp_path: Path) -> None:
    """A Mastodon route left out of the OpenAPI document would silently escape the run above."""
    manifest = load_manifest(MONOLITH)
    app_settings = Settings(data_dir=str(tmp_path / "data"), manifest=str(MONOLITH), **FAST_ARGON2)
    asyncio.run(migrate_all(manifest, app_settings))
    app = create_app(app_settings, manifest)
    with TestClient(app) as client:
        document = client.get("/schema/openapi.json").json()
    documented = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    served: set[tuple[str, str]] = set()
    for route in app.routes:
        path = re.sub(r"\{(\w+):[^}]+\}", r"{\1}", route.path)
        if not path.startswith(MASTODON_PREFIXES) and path not in ("/api/v1", "/oauth"):
            continue
        for handler in getattr(route, "route_handlers", []):
            served.update(
                (method, path)
                for method in (getattr(handler, "http_methods", None) or ())
                if method not in ("HEAD", "OPTIONS")
            )
    assert len(served) > 50  # the whole adapter, not a handful
    assert sorted(served - documented) == []
