"""The container image, built and run for real (`make image-test`, run by .ci/run; needs root).

What each test proves, and what it does not:
- the monolith container migrates (the migrations are found inside the installed package), starts
  as a non-root user on a read-only root filesystem, and answers /readyz and a real API call;
- `podman kube play` starts every rendered Deployment of deployments/split.toml from that image and
  each answers /readyz against a real PostgreSQL and Redis. podman ignores Services and readiness
  probes and cannot give a pod its IP, so the pods run on the host network, one replica each: this
  proves the pods start as rendered, not that Kubernetes would route them (the schema validation
  and the DNS test in `make test` cover that).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.databases import create_database, drop_database, redis_url  # noqa: E402
from twitterclone import kubernetes  # noqa: E402
from twitterclone.identity import provision  # noqa: E402
from twitterclone.listeners import unused_ports  # noqa: E402
from twitterclone.manifest import load_manifest  # noqa: E402

IMAGE = os.environ.get("IMAGE", "localhost/twitterclone:0.1.0")
ENV = {**os.environ, "CONTAINERS_CONF": str(ROOT / "deploy" / "podman" / "containers.conf")}


def podman(*args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["podman", *args], env=ENV, capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def wait_ready(url: str, within_s: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + within_s
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, timeout=2)
            if response.status_code == 200:
                body: dict[str, Any] = response.json()
                return body
            last = f"{response.status_code} {response.text}"
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(1)
    raise AssertionError(f"{url} not ready within {within_s}s: {last}")


@pytest.fixture
def volume() -> Iterator[str]:
    name = f"tc-image-test-{uuid.uuid4().hex[:8]}"
    podman("volume", "create", name)
    try:
        yield name
    finally:
        podman("volume", "rm", "-f", name, check=False)


def test_the_monolith_container_migrates_serves_and_answers_readyz(volume: str) -> None:
    data = f"{volume}:/var/lib/twitterclone"
    migrated = podman("run", "--rm", "-v", data, IMAGE, "migrate")
    assert "users" in migrated.stdout
    assert "->" in migrated.stdout
    port = unused_ports()
    name = f"{volume}-monolith"
    podman(
        "run", "-d", "--name", name, "--read-only", "--tmpfs", "/tmp", "-v", data,
        "-p", f"127.0.0.1:{port}:8000", IMAGE,
    )  # fmt: skip
    try:
        health = wait_ready(f"http://127.0.0.1:{port}/readyz")
        assert health["status"] == "ok"
        assert set(health["checks"]) == {"users", "tweets", "timeline", "media", "notifications", "analytics"}
        assert podman("exec", name, "id", "-u").stdout.strip() == "10001"
        registered = httpx.post(
            f"http://127.0.0.1:{port}/api/auth/register",
            json={"handle": "imagetest", "email": "image@example.org", "password": "correct horse battery"},
            timeout=30,
        )
        assert registered.status_code == 201, registered.text
    finally:
        podman("rm", "-f", name, check=False)


def for_podman(
    files: dict[str, list[dict[str, Any]]], database_url: str, prefix: str, key_dir: Path
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The rendered ConfigMap and Deployments, bent to what `podman kube play` can run here."""
    docs: list[dict[str, Any]] = []
    ports: dict[str, int] = {}
    for doc in (d for docs in files.values() for d in docs):
        if doc["kind"] == "ConfigMap":
            text = doc["data"]["manifest.toml"]
            doc["data"]["manifest.toml"] = text.replace('prefix = "tc:split:"', f'prefix = "{prefix}"')
            docs.append(doc)
        if doc["kind"] != "Deployment":
            continue
        name = doc["metadata"]["labels"]["app.kubernetes.io/component"]
        port = ports[name] = unused_ports()
        doc["spec"]["replicas"] = 1  # every replica would publish the same host port
        pod = doc["spec"]["template"]["spec"]
        pod["hostNetwork"] = True  # to reach the host's PostgreSQL and Redis; no pod IP to bind
        container = pod["containers"][0]
        args = container["args"]
        args[args.index("--host") + 1] = "127.0.0.1"
        args[args.index("--port") + 1] = str(port)
        container.pop("ports")  # podman publishes no ports on the host network (nor needs to)
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            container[probe]["httpGet"]["port"] = port
        values = {"TWITTERCLONE_DATABASE_URL": database_url, "TWITTERCLONE_REDIS_URL": redis_url()}
        container["env"] = [
            {"name": e["name"], "value": values[e["name"]]} if e["name"] in values else e
            for e in container["env"]
            if e["name"] != "POD_IP"
        ]  # podman has no secretKeyRef to kube Secrets nor status.podIP
        for volume in pod["volumes"]:
            if "projected" in volume:  # each process's own key and every public key: one folder here
                volume.pop("projected")
                volume["hostPath"] = {"path": str(key_dir), "type": "Directory"}
            if "persistentVolumeClaim" in volume or "emptyDir" in volume:
                volume.pop("persistentVolumeClaim", None)
                volume.pop("emptyDir", None)
                scratch = key_dir.parent / f"{name}-{volume['name']}"
                scratch.mkdir(mode=0o777, exist_ok=True)
                scratch.chmod(0o777)
                volume["hostPath"] = {"path": str(scratch), "type": "Directory"}
        docs.append(doc)
    return docs, ports


def test_podman_kube_play_starts_every_rendered_deployment(tmp_path: Path) -> None:
    manifest = load_manifest(ROOT / "deployments" / "split.toml")
    files = kubernetes.render(manifest, IMAGE, source="split.toml")
    database_url = asyncio.run(create_database())
    key_dir = tmp_path / "identity"
    key_dir.mkdir()
    for path in provision(key_dir):  # `twitterclone service-keys`: every service's pair
        path.chmod(0o444)
    key_dir.chmod(0o755)  # the pods' user (10001) reads it, as from a mounted secret
    tmp_path.chmod(0o755)
    prefix = f"tc:image:{uuid.uuid4().hex[:8]}:"
    docs, ports = for_podman(files, database_url, prefix, key_dir)
    kube = tmp_path / "play.yaml"
    kube.write_text(kubernetes.dump(docs))
    try:
        podman(  # the migration Job's work, from the same image, before the pods start
            "run", "--rm", "--network", "host", "-e", f"TWITTERCLONE_DATABASE_URL={database_url}",
            IMAGE, "migrate", "--manifest", "deployments/split.toml",
        )  # fmt: skip
        podman("volume", "rm", "-f", "twitterclone-manifest", check=False)  # a stale one would be reused
        podman("kube", "play", str(kube))
        for name, port in sorted(ports.items()):
            health = wait_ready(f"http://127.0.0.1:{port}/readyz")
            assert health["status"] == "ok", name
        pods = podman("pod", "ps", "--format", "{{.Name}} {{.Status}}").stdout
        for name in ports:
            assert any(
                line.startswith(f"twitterclone-{name}") and "Running" in line for line in pods.splitlines()
            )
        user = podman("ps", "--format", "{{.Names}}").stdout.split()
        container = next(c for c in user if c.startswith("twitterclone-users"))
        assert podman("exec", container, "id", "-u").stdout.strip() == "10001"
        touch = podman("exec", container, "touch", "/app/x", check=False)
        assert touch.returncode != 0  # readOnlyRootFilesystem held
    finally:
        podman("kube", "down", str(kube), check=False)
        podman("volume", "rm", "-f", "twitterclone-manifest", check=False)  # kube down leaves it
        asyncio.run(drop_database(database_url))
