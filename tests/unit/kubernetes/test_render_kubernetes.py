"""`twitterclone render kubernetes`: valid against the Kubernetes schemas, and true to the manifest.

Schema validation (kubernetes-validate, strict, one pinned Kubernetes minor) proves each object
is one the API server would accept. The other tests prove the objects say what the manifest
says: replicas, autoscaling ranges, who may call whom (from the providers' port dependencies),
secrets referenced but never written, and that `deploy/split` is what the renderer makes today.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from click.testing import CliRunner

from twitterclone import kubernetes
from twitterclone.cli import main
from twitterclone.composition import dns_names, port_dependencies
from twitterclone.manifest import ManifestError, load_manifest, parse_manifest

ROOT = Path(__file__).resolve().parents[3]
SPLIT = ROOT / "deployments" / "split.toml"
HYBRID = ROOT / "deployments" / "hybrid.toml"
#: The image the checked-in example is rendered for (deploy/README.md, `make deploy`).
EXAMPLE_IMAGE = "twitterclone:0.1.0"


def rendered(path: Path = SPLIT, image: str = EXAMPLE_IMAGE) -> dict[str, list[dict[str, Any]]]:
    return kubernetes.render(load_manifest(path), image, source=str(path))


def objects(files: dict[str, list[dict[str, Any]]], kind: str) -> dict[str, dict[str, Any]]:
    return {
        d["metadata"]["name"]: d
        for name, docs in files.items()
        if name != "kustomization.yaml"
        for d in docs
        if d["kind"] == kind
    }


@pytest.mark.parametrize("path", [SPLIT, HYBRID], ids=["split", "hybrid"])
def test_every_object_is_valid_for_the_pinned_kubernetes(path: Path) -> None:
    files = rendered(path)
    count = 0
    for name, docs in files.items():
        if name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(kubernetes.dump(docs)):  # what is written, read back
            kubernetes_validate.validate(doc, kubernetes.KUBERNETES_VERSION, strict=True)
            count += 1
    assert count >= 30


def test_the_schema_check_can_fail() -> None:
    deployment = next(iter(objects(rendered(), "Deployment").values()))
    broken = {**deployment, "spec": {**deployment["spec"], "replicas": "two"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, kubernetes.KUBERNETES_VERSION, strict=True)
    typo = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):  # strict: unknown fields are refused
        kubernetes_validate.validate(typo, kubernetes.KUBERNETES_VERSION, strict=True)


def test_a_deployment_per_process_with_the_manifests_replicas_and_ranges() -> None:
    manifest = load_manifest(SPLIT)
    files = rendered()
    deployments = objects(files, "Deployment")
    scalers = objects(files, "HorizontalPodAutoscaler")
    assert sorted(deployments) == sorted(f"twitterclone-{p}" for p in ["gateway", *manifest.remote_modules])
    for m in manifest.remote_modules:
        cfg = manifest.module(m)
        spec = deployments[f"twitterclone-{m}"]["spec"]
        # Under an autoscaler the Deployment names no count (`kubectl apply` would reset it).
        assert spec.get("replicas") == (cfg.replicas if cfg.autoscale is None else None)
        container = spec["template"]["spec"]["containers"][0]
        assert container["ports"][0]["containerPort"] == cfg.port
        assert container["args"][container["args"].index("--service") + 1] == m
        if cfg.autoscale is None:
            assert f"twitterclone-{m}" not in scalers
        else:
            hpa = scalers[f"twitterclone-{m}"]["spec"]
            target = hpa["metrics"][0]["resource"]["target"]["averageUtilization"]
            assert (hpa["minReplicas"], hpa["maxReplicas"], target) == (
                cfg.autoscale.min,
                cfg.autoscale.max,
                cfg.autoscale.target,
            )
    gateway_scale = manifest.gateway.autoscale
    assert gateway_scale is not None
    assert "replicas" not in deployments["twitterclone-gateway"]["spec"]
    assert scalers["twitterclone-gateway"]["spec"]["minReplicas"] == gateway_scale.min
    assert sorted(objects(files, "PodDisruptionBudget")) == sorted(deployments)


def test_pods_are_probed_restricted_and_drain_before_they_stop() -> None:
    manifest = load_manifest(SPLIT)
    pause, grace = kubernetes.drain_timing(manifest)
    for deployment in objects(rendered(), "Deployment").values():
        pod = deployment["spec"]["template"]["spec"]
        container = pod["containers"][0]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
        assert container["securityContext"] == {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        }
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert container["resources"]["requests"]
        assert container["resources"]["limits"]
        assert container["lifecycle"]["preStop"]["sleep"]["seconds"] == pause
        assert pod["terminationGracePeriodSeconds"] == grace
    # Callers stop choosing a pod only after the cluster DNS and their own cache forget it.
    assert pause > kubernetes.CLUSTER_DNS_TTL_S + manifest.registry.dns_refresh_s
    assert grace >= pause + kubernetes.DRAIN_S


def test_rolling_updates_keep_every_old_replica_until_a_new_one_is_ready() -> None:
    for name, deployment in objects(rendered(), "Deployment").items():
        strategy = deployment["spec"]["strategy"]
        if name == "twitterclone-media":  # one writer of a volume: replaced, not overlapped
            assert strategy == {"type": "Recreate"}
        else:
            assert strategy["rollingUpdate"]["maxUnavailable"] == 0


def expected_callers(manifest_path: Path) -> dict[str, set[str]]:
    manifest = load_manifest(manifest_path)
    host = {m: (m if m in manifest.remote_modules else "gateway") for m in port_dependencies()}
    allowed: dict[str, set[str]] = {}
    for m in manifest.remote_modules:
        callers = {"gateway"} | {host[c] for c, needs in port_dependencies().items() if m in needs}
        allowed[m] = callers - {m}
    return allowed


@pytest.mark.parametrize("path", [SPLIT, HYBRID], ids=["split", "hybrid"])
def test_each_service_admits_only_the_callers_its_port_dependencies_name(path: Path) -> None:
    policies = objects(rendered(path), "NetworkPolicy")
    for module, callers in expected_callers(path).items():
        rules = policies[f"twitterclone-{module}"]["spec"]["ingress"]
        admitted = {
            peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for peer in rules[0]["from"]
        }
        assert admitted == callers, module
    assert "from" not in policies["twitterclone-gateway"]["spec"]["ingress"][0]  # the public API
    deny = policies["twitterclone-default-deny"]["spec"]
    assert deny["policyTypes"] == ["Ingress"]
    assert "ingress" not in deny


def test_the_dependency_graph_is_the_one_the_providers_declare() -> None:
    graph = port_dependencies()
    assert set(graph) == {"users", "tweets", "timeline", "media", "notifications", "analytics"}
    assert "users" in graph["tweets"]
    assert "media" in graph["tweets"]
    assert {"users", "tweets"} <= set(graph["timeline"])
    assert graph["users"] == ("media",)  # only to check the images a profile shows
    split = expected_callers(SPLIT)
    assert split["users"] >= {"gateway", "tweets", "timeline", "notifications"}
    assert split["analytics"] == {"gateway"}


def test_discovery_names_in_the_pods_manifest_are_the_headless_services() -> None:
    files = rendered(HYBRID)
    config = objects(files, "ConfigMap")["twitterclone-manifest"]["data"]["manifest.toml"]
    pods = parse_manifest(config, source="configmap")
    assert pods.registry.backend == "dns"
    services = objects(files, "Service")
    for service, (name, port) in dns_names(pods).items():
        headless = services[name]
        assert headless["spec"]["clusterIP"] == "None"
        assert headless["spec"]["ports"][0]["port"] == port
        serving = headless["spec"]["selector"]["app.kubernetes.io/component"]
        assert serving == (service if service in pods.remote_modules else "gateway")
        assert f"twitterclone-{service}" in services  # and a Service per module


def test_secrets_are_referenced_never_rendered() -> None:
    files = rendered()
    text = "".join(kubernetes.dump(docs) for docs in files.values())
    manifest = load_manifest(SPLIT)
    assert manifest.database.url is not None
    assert manifest.redis is not None
    assert manifest.database.url not in text
    assert manifest.redis.url not in text
    assert not objects(files, "Secret")
    for secret in (kubernetes.DATABASE_SECRET, kubernetes.REDIS_SECRET):
        assert f"name: {secret}" in text or f"secretName: {secret}" in text


@pytest.mark.parametrize("path", [SPLIT, HYBRID], ids=["split", "hybrid"])
def test_each_pod_holds_its_own_service_key_and_every_public_key(path: Path) -> None:
    manifest = load_manifest(path)
    files = rendered(path)
    for name, deployment in objects(files, "Deployment").items():
        process = name.removeprefix("twitterclone-")
        pod = deployment["spec"]["template"]["spec"]
        (identity,) = [v for v in pod["volumes"] if v["name"] == "identity"]
        secrets = [s["secret"] for s in identity["projected"]["sources"] if "secret" in s]
        # The gateway also signs restricted image URLs, with one key all its replicas share.
        extra = [{"key": "media-url.key", "path": "media-url.key"}] if process == "gateway" else []
        assert secrets == [
            {
                "name": f"twitterclone-identity-{process}",
                "items": [{"key": f"{process}.key", "path": f"{process}.key"}, *extra],
            }
        ]  # its own key only: a compromised pod cannot sign as another service
        maps = [s["configMap"]["name"] for s in identity["projected"]["sources"] if "configMap" in s]
        assert maps == [kubernetes.PUBLIC_KEYS_CONFIGMAP]
        env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
        assert env["TWITTERCLONE_SERVICE_KEYS_DIR"] == kubernetes.IDENTITY_DIR
    assert {n.removeprefix("twitterclone-") for n in objects(files, "Deployment")} == {
        "gateway",
        *manifest.remote_modules,
    }
    (job,) = objects(files, "Job").values()  # migrations need no service identity
    assert all(v["name"] != "identity" for v in job["spec"]["template"]["spec"]["volumes"])


def test_a_hybrid_gateway_serves_hosted_ports_on_its_internal_port_to_their_callers_only() -> None:
    manifest = load_manifest(HYBRID)
    public = manifest.gateway.port
    internal = manifest.gateway_internal_address()[1]
    assert internal != public
    files = rendered(HYBRID)
    gateway = objects(files, "Deployment")["twitterclone-gateway"]["spec"]["template"]["spec"]
    ports = {p["name"]: p["containerPort"] for p in gateway["containers"][0]["ports"]}
    assert ports == {"http": public, "internal": internal}
    services = objects(files, "Service")
    for module in manifest.local_modules:
        for name in (f"twitterclone-{module}", f"twitterclone-{module}-headless"):
            assert services[name]["spec"]["ports"][0]["port"] == internal
    assert services["twitterclone-gateway"]["spec"]["ports"][0]["port"] == public
    rules = objects(files, "NetworkPolicy")["twitterclone-gateway"]["spec"]["ingress"]
    assert rules[0] == {"ports": [{"protocol": "TCP", "port": public}]}  # the public API: from anywhere
    (internal_rule,) = rules[1:]
    assert internal_rule["ports"] == [{"protocol": "TCP", "port": internal}]
    admitted = {
        peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for peer in internal_rule["from"]
    }
    assert admitted == set(kubernetes.callers(manifest)["gateway"])
    assert admitted  # hybrid: notifications asks users about blocks
    assert admitted <= set(manifest.remote_modules)
    # A split gateway hosts no module: no internal port at all.
    split = objects(rendered(SPLIT), "Deployment")["twitterclone-gateway"]["spec"]["template"]["spec"]
    assert [p["name"] for p in split["containers"][0]["ports"]] == ["http"]


def test_the_migration_job_runs_the_migrations_once_per_release() -> None:
    jobs = objects(rendered(), "Job")
    ((name, job),) = jobs.items()
    assert job["spec"]["template"]["spec"]["containers"][0]["args"][0] == "migrate"
    assert list(objects(rendered(image="twitterclone:0.2.0"), "Job")) != [name]
    assert list(objects(rendered(), "Job")) == [name]


def test_rendering_is_deterministic_and_deploy_split_is_up_to_date() -> None:
    first = {name: kubernetes.dump(docs) for name, docs in rendered().items()}
    assert first == {name: kubernetes.dump(docs) for name, docs in rendered().items()}
    checked_in = {p.name: p.read_text() for p in (ROOT / "deploy" / "split").glob("*.yaml")}
    assert checked_in == first, "deploy/split is stale: run `make deploy`"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name = "m"', "needs database.kind = 'postgresql'"),
        (
            'name = "m"\n[database]\nkind = "postgresql"\nurl = "postgresql+asyncpg://h/d"\n'
            '[redis]\nurl = "redis://h"\n[security]\nmtls = true',
            "key 'security.mtls'",
        ),
    ],
)
def test_what_pods_cannot_run_is_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(ManifestError, match=None) as info:
        kubernetes.render(parse_manifest(text, source="m.toml"), "img", source="m.toml")
    assert message in str(info.value)


def test_the_command_writes_a_directory_kustomize_can_read(tmp_path: Path) -> None:
    out = tmp_path / "k"
    result = CliRunner().invoke(
        main, ["render", "kubernetes", "-m", str(SPLIT), "--image", EXAMPLE_IMAGE, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    kustomization = yaml.safe_load((out / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(
        p.name for p in out.glob("*.yaml") if p.name != "kustomization.yaml"
    )
    bad = CliRunner().invoke(
        main, ["render", "kubernetes", "-m", str(ROOT / "deployments" / "monolith.toml"), "--image", "x"]
    )
    assert bad.exit_code != 0
    assert "postgresql" in bad.output


def test_prometheus_alone_may_scrape_every_process() -> None:
    manifest = load_manifest(SPLIT)
    (policy,) = rendered()["network-prometheus.yaml"]
    assert policy["kind"] == "NetworkPolicy"
    (rule,) = policy["spec"]["ingress"]
    (peer,) = rule["from"]  # one peer with both selectors: Prometheus pods in the monitoring namespace
    assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "monitoring"}
    assert peer["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "prometheus"}
    ports = {p["port"] for p in rule["ports"]}
    assert ports == {manifest.gateway.port, *(manifest.module(m).port for m in manifest.remote_modules)}
    assert policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/instance"] == manifest.name
