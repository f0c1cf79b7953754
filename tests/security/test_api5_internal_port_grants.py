"""Internal port calls are authorised per caller and method (issue 11, finding 8, in part).

The users service of a split deployment, called on its internal route ``/_port/users/<method>``
with valid service tokens (each signed with its caller's own key) naming different callers. A
service may call only the methods of the ports its module's providers ask for
(``composition.port_grants``); the gateway, which serves the public API, may call any. Before
this, any holder of a valid token could call any method of any module: analytics could make
itself an administrator through ``users.grant_admin``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import redis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from litestar import Litestar
from litestar.testing import TestClient

from boundaries.users.port import UsersPort
from tests.conftest import FAST_ARGON2
from twitterclone.composition import MODULES, port_dependencies, port_grants, service_keys_dir
from twitterclone.identity import ServiceIdentity, load_own_key
from twitterclone.infra.store import ModuleStore, sqlite_url
from twitterclone.listeners import unused_ports
from twitterclone.manifest import Manifest, parse_manifest
from twitterclone.migrate import migrate
from twitterclone.remote import wire
from twitterclone.remote.portspec import port_spec
from twitterclone.service_app import create_service_app
from twitterclone.settings import Settings

REDIS_URL = os.environ.get("TWITTERCLONE_REDIS_URL", "redis://127.0.0.1:6379/0")


def split_manifest(prefix: str, port: int) -> Manifest:
    remote = "\n".join(
        f'[modules.{m}]\nplacement = "remote"\nport = {port + i}\n'
        for i, m in enumerate(("users", "tweets", "timeline", "media", "notifications", "analytics"))
    )
    return parse_manifest(
        f"""
name = "grants"
[database]
kind = "sqlite"
[redis]
url = "{REDIS_URL}"
prefix = "{prefix}"
[registry]
backend = "redis"
[events]
transport = "redis-streams"
{remote}
"""
    )


@pytest.fixture
def users_service(tmp_path: Path) -> Iterator[tuple[TestClient[Litestar], Settings]]:
    prefix = f"tc:test:{uuid4().hex}:"
    port = unused_ports()
    manifest = split_manifest(prefix, port)
    settings = Settings(data_dir=str(tmp_path), worker_id=1, **FAST_ARGON2)  # no lease wait

    async def migrated() -> None:
        store = ModuleStore("users", sqlite_url(settings.data_path, "users"))
        try:
            await migrate(store)
        finally:
            await store.dispose()

    asyncio.run(migrated())
    app = create_service_app(settings, manifest, "users", host="127.0.0.1", port=port)
    try:
        with TestClient(app) as client:
            yield client, settings
    finally:
        r = redis.Redis.from_url(REDIS_URL)
        keys = list(r.scan_iter(match=f"{prefix}*"))
        if keys:
            r.delete(*keys)
        r.close()


def call(
    client: TestClient[Litestar], settings: Settings, caller: str, method: str, **args: Any
) -> tuple[int, Any]:
    identity = ServiceIdentity(load_own_key(service_keys_dir(settings), caller), caller=caller)
    spec = port_spec("users", UsersPort).methods[method]
    r = client.post(
        wire.call_path("users", method),
        content=wire.encode(spec.args_type(**args)),
        headers={
            "authorization": f"Bearer {identity.token_for('users')}",
            "content-type": wire.CONTENT_TYPE,
        },
    )
    return r.status_code, r.content


@pytest.mark.parametrize(
    ("caller", "method", "args"),
    [
        ("analytics", "grant_admin", {"handle": "mallory"}),  # analytics calls users for nothing
        ("tweets", "suspend", {"admin_id": "1", "user_id": "2"}),  # tweets only reads the directory
        ("notifications", "signing_keys", {"admin_id": "1"}),
        ("timeline", "register", None),
    ],
)
def test_a_service_may_not_call_what_its_module_does_not_depend_on(
    users_service: tuple[TestClient[Litestar], Settings],
    caller: str,
    method: str,
    args: dict[str, Any] | None,
) -> None:
    client, settings = users_service
    if args is None:  # the body is never read: refused before it
        status, body = _raw(client, settings, caller, method)
    else:
        status, body = call(client, settings, caller, method, **args)
    assert status == 403, body
    assert f"{caller} may not call users.{method}".encode() in body


def test_a_caller_that_is_no_service_is_refused(users_service: tuple[TestClient[Litestar], Settings]) -> None:
    client, _settings = users_service
    mallory = ServiceIdentity(Ed25519PrivateKey.generate(), caller="mallory")
    r = client.post(
        wire.call_path("users", "jwks"),
        content=wire.encode(port_spec("users", UsersPort).methods["jwks"].args_type()),
        headers={"authorization": f"Bearer {mallory.token_for('users')}", "content-type": wire.CONTENT_TYPE},
    )
    assert r.status_code == 401, r.content  # no service of that name, so no key to verify it with


def test_granted_calls_still_work(users_service: tuple[TestClient[Litestar], Settings]) -> None:
    client, settings = users_service
    assert "authors" in port_grants()["tweets"]["users"]  # tweets' UserDirectoryPort
    assert call(client, settings, "tweets", "authors", user_ids=[])[0] == 200
    assert call(client, settings, "notifications", "profiles", user_ids=[])[0] == 200
    assert call(client, settings, "gateway", "jwks")[0] == 200  # the public API's caller: every method
    assert port_grants()["analytics"] == {}


def _raw(client: TestClient[Litestar], settings: Settings, caller: str, method: str) -> tuple[int, bytes]:
    identity = ServiceIdentity(load_own_key(service_keys_dir(settings), caller), caller=caller)
    r = client.post(
        wire.call_path("users", method),
        content=b"\x80",
        headers={"authorization": f"Bearer {identity.token_for('users')}", "content-type": wire.CONTENT_TYPE},
    )
    return r.status_code, r.content


def test_the_grants_are_the_declared_dependency_graph_down_to_methods() -> None:
    grants = port_grants()
    assert {m: tuple(sorted(targets)) for m, targets in grants.items()} == port_dependencies()
    for targets in grants.values():
        for target, methods in targets.items():
            served = {name for port in MODULES[target].ports for name in port_spec(target, port).methods}
            assert methods <= served  # methods the target serves (its port and narrow faces)


def test_a_service_exposes_nothing_but_its_internal_routes(
    users_service: tuple[TestClient[Litestar], Settings],
) -> None:
    client, _settings = users_service
    routes = {route.path for route in client.app.routes}
    assert routes == {"/_port/{module:str}/{method:str}", "/livez", "/readyz", "/metrics"}
    for path in ("/schema", "/schema/openapi.json", "/api/users/search", "/api/auth/login", "/ops"):
        assert client.get(path).status_code == 404, path
