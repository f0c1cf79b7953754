"""Mutual TLS between services: the split works over it, and a caller without a certificate is refused."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import deployment
from tests.e2e.scenarios import eventually, home_ids, sign_up


@pytest.mark.slow
def test_split_over_mutual_tls(tmp_path: Path) -> None:
    with (
        deployment("split", tmp_path, mtls=True) as d,
        httpx.Client(base_url=d.base_url, timeout=10) as client,
    ):
        alice, bob = sign_up(client, "alice"), sign_up(client, "bob")
        assert client.put(f"/api/users/me/following/{alice.id}", headers=bob.headers).status_code == 200
        tweet = client.post("/api/tweets", json={"text": "over mtls"}, headers=alice.headers).json()["id"]
        eventually(lambda: tweet in home_ids(client, bob), 2.0, "fan-out over mtls")

        tweets = d.launcher.find("tweets").spec.address
        certs = d.data_dir / d.manifest.security.certs_dir
        with pytest.raises(httpx.HTTPError):  # no client certificate: the handshake fails
            httpx.get(
                f"https://{tweets}/livez", verify=ssl.create_default_context(cafile=str(certs / "ca.pem"))
            )
        ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
        ctx.load_cert_chain(str(certs / "gateway.pem"), str(certs / "gateway-key.pem"))
        assert httpx.get(f"https://{tweets}/livez", verify=ctx).status_code == 200
        # A certificate is not enough: internal calls still need a service token.
        r = httpx.post(f"https://{tweets}/_port/tweets/get", verify=ctx, content=b"")
        assert r.status_code == 401
