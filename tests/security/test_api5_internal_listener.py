"""Internal port calls: an internal listener only, mutual TLS on every hop, a key per service
(issue 11, finding 8).

Black-box against real deployments started by the launcher (`tests/e2e/harness.py`): the
hybrid manifest (users, tweets and timeline in the gateway's process; media, notifications and
analytics as services, which call the gateway's modules) and the split one.

- The gateway's public listener never serves ``/_port``: 404, even with a valid service token.
  The modules it hosts are served on its internal listener, which is what the registry names.
- A service token proves which service made it: each service signs with its own key, and the
  receiver verifies with the public key of the service the token names. A token naming another
  service than the key's owner is refused, as is one signed with a key no service owns.
- With ``mtls = true`` the gateway's internal listener speaks TLS and demands a client
  certificate from the deployment's CA: plain HTTP and certificate-less calls are refused.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from boundaries.users.port import UsersPort
from tests.e2e.harness import Deployment, deployment
from twitterclone.composition import build_runtime, service_keys_dir
from twitterclone.identity import ServiceIdentity, load_or_create_key, private_key_file
from twitterclone.remote import wire
from twitterclone.remote.portspec import port_spec
from twitterclone.settings import Settings

pytestmark = pytest.mark.slow

JWKS = wire.encode(port_spec("users", UsersPort).methods["jwks"].args_type())


@pytest.fixture(scope="module")
def hybrid(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    with deployment("hybrid", tmp_path_factory.mktemp("hybrid")) as d:
        yield d


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    with deployment("split", tmp_path_factory.mktemp("split")) as d:
        yield d


def key_of(d: Deployment, service: str) -> Ed25519PrivateKey:
    """The credential a compromised ``service`` process holds: its own private key."""
    return load_or_create_key(private_key_file(d.data_dir / "service-identity", service))


def token(key: Ed25519PrivateKey, caller: str, target: str) -> str:
    return ServiceIdentity(key, caller=caller).token_for(target)


def post_port(url: str, bearer: str, **kwargs: object) -> httpx.Response:
    headers = {"authorization": f"Bearer {bearer}", "content-type": wire.CONTENT_TYPE}
    return httpx.post(f"{url}/_port/users/jwks", content=JWKS, headers=headers, timeout=5, **kwargs)  # type: ignore[arg-type]


def internal_url(d: Deployment, scheme: str = "http") -> str:
    host, port = d.manifest.gateway_internal_address("127.0.0.1", int(d.base_url.rsplit(":", 1)[1]))
    return f"{scheme}://{host}:{port}"


@pytest.mark.parametrize("topology", ["hybrid", "split"])
def test_the_public_listener_serves_no_port_calls(topology: str, request: pytest.FixtureRequest) -> None:
    d: Deployment = request.getfixturevalue(topology)
    gateway_token = token(key_of(d, "gateway"), "gateway", "users")
    for path in ("/_port/users/jwks", "/_port/tweets/get", "/_port/nothing/here", "//_port/users/jwks"):
        r = httpx.post(
            d.base_url + path,
            content=JWKS,
            headers={"authorization": f"Bearer {gateway_token}", "content-type": wire.CONTENT_TYPE},
        )
        assert r.status_code == 404, (path, r.status_code, r.text)


def test_the_gateway_serves_its_modules_on_the_internal_listener_the_registry_names(
    hybrid: Deployment,
) -> None:
    url = internal_url(hybrid)
    assert post_port(url, token(key_of(hybrid, "gateway"), "gateway", "users")).status_code == 200
    # notifications signs with its own key: accepted (not 401), but jwks is not granted to it.
    assert post_port(url, token(key_of(hybrid, "notifications"), "notifications", "users")).status_code == 403
    assert httpx.get(f"{url}/api/users/search?q=a").status_code == 404  # nothing public on it
    assert httpx.get(f"{url}/schema").status_code == 404

    async def registered() -> set[str]:
        settings = Settings(data_dir=str(hybrid.data_dir), manifest=hybrid.launcher.manifest_path)
        runtime = build_runtime(hybrid.manifest, settings, "analytics")
        try:
            hosted = ("users", "tweets", "timeline")
            return {i.base_url for m in hosted for i in await runtime.registry.resolve(m)}
        finally:
            await runtime.stop()

    assert asyncio.run(registered()) == {url}


@pytest.mark.parametrize(
    ("signer", "claims"),
    [
        ("analytics", "gateway"),  # analytics posing as the gateway, which may call anything
        ("tweets", "gateway"),
        ("notifications", "tweets"),
        ("timeline", "users"),
    ],
)
def test_a_service_cannot_mint_tokens_as_another(split: Deployment, signer: str, claims: str) -> None:
    users = split.launcher.find("users").spec.address
    r = post_port(f"http://{users}", token(key_of(split, signer), claims, "users"))
    assert r.status_code == 401, r.text
    assert b"invalid-service-token" in r.content


def test_a_token_signed_with_a_key_no_service_owns_is_refused(split: Deployment) -> None:
    users = split.launcher.find("users").spec.address
    for caller in ("gateway", "tweets"):
        r = post_port(f"http://{users}", token(Ed25519PrivateKey.generate(), caller, "users"))
        assert r.status_code == 401, r.text
    # The one deployment-wide key of before is no credential any more.
    old = split.data_dir / "service-identity.pem"
    r = post_port(f"http://{users}", token(load_or_create_key(old), "gateway", "users"))
    assert r.status_code == 401, r.text
    # Each service's own key still works for what it is granted.
    own = token(key_of(split, "gateway"), "gateway", "users")
    assert post_port(f"http://{users}", own).status_code == 200


def test_each_service_holds_a_key_of_its_own(split: Deployment) -> None:
    keys = service_keys_dir(Settings(data_dir=str(split.data_dir)))
    publics = {p.read_bytes() for p in keys.glob("*.pub")}
    processes = {"gateway", *split.manifest.remote_modules}
    assert {p.stem for p in keys.glob("*.key")} >= processes
    assert len(publics) == len(list(keys.glob("*.pub"))) >= len(processes)  # all different


def test_with_mtls_the_internal_listener_refuses_plain_and_certificate_less_calls(
    tmp_path: Path,
) -> None:
    with deployment("hybrid", tmp_path, mtls=True) as d:
        gateway_token = token(key_of(d, "gateway"), "gateway", "users")
        certs = d.data_dir / d.manifest.security.certs_dir
        with pytest.raises(httpx.HTTPError):  # plain HTTP to a TLS listener
            post_port(internal_url(d), gateway_token)
        ca_only = ssl.create_default_context(cafile=str(certs / "ca.pem"))
        with pytest.raises(httpx.HTTPError):  # TLS without a client certificate: the handshake fails
            post_port(internal_url(d, "https"), gateway_token, verify=ca_only)
        with_cert = ssl.create_default_context(cafile=str(certs / "ca.pem"))
        with_cert.load_cert_chain(str(certs / "analytics.pem"), str(certs / "analytics-key.pem"))
        assert post_port(internal_url(d, "https"), gateway_token, verify=with_cert).status_code == 200
        # The public listener stays the plain edge, and serves no port calls: not even in plain
        # HTTP with a valid token (before, it answered 200 there, mtls or not).
        assert post_port(d.base_url, gateway_token).status_code == 404
        # The services reach the gateway's modules over mutual TLS: a notification across the hop.
        with httpx.Client(base_url=d.base_url, timeout=10) as client:
            from tests.e2e.scenarios import eventually, sign_up

            alice, bob = sign_up(client, "alice"), sign_up(client, "bob")
            client.put(f"/api/users/me/following/{alice.id}", headers=bob.headers).raise_for_status()

            def notified() -> bool:
                r = client.get("/api/notifications", headers=alice.headers)
                return r.status_code == 200 and len(r.json()["items"]) > 0

            eventually(notified, 10.0, "a follow notification (notifications calls users over mtls)")
