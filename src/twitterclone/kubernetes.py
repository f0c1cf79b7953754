"""`twitterclone render kubernetes`: the deployment manifest as plain Kubernetes resources.

The same manifest `twitterclone up` runs on one machine becomes, per process (the gateway and
each remote module): a Deployment, an autoscaler, a disruption budget and a network policy; per
module a Service and a headless Service (what the ``dns`` registry backend looks up); and, once,
the manifest as a ConfigMap, a migration Job, an Ingress for the gateway and a default-deny
policy. Secrets are referenced by name, never rendered: each process its own service identity
key (``twitterclone-identity-<process>``) beside every service's public key (the
``twitterclone-service-keys`` ConfigMap), so no pod holds another's credential. A gateway that
hosts modules others call serves their ports on its internal port, which only those callers
may reach; its public port serves no port call. The output is deterministic: the same
manifest and image give byte-identical files, so a rendered copy can be checked in and diffed.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import tomli_w
import yaml

from twitterclone.composition import GATEWAY, port_dependencies
from twitterclone.identity import MEDIA_URL_KEY, private_key_file
from twitterclone.manifest import MODULE_NAMES, AutoscaleConfig, Manifest, ManifestError, parse_manifest

APP = "twitterclone"
MANIFEST_DIR = "/etc/twitterclone/manifest"
MANIFEST_FILE = f"{MANIFEST_DIR}/manifest.toml"
IDENTITY_DIR = "/etc/twitterclone/identity"
DATA_DIR = "/var/lib/twitterclone"
#: Secrets the Deployments read; an operator creates them (deploy/README.md says how).
DATABASE_SECRET = f"{APP}-database"
REDIS_SECRET = f"{APP}-redis"
#: Each process's own service identity key: ``<process>.key`` in the secret named so.
IDENTITY_SECRET = f"{APP}-identity-{{service}}"
#: Every service's public key (``<service>.pub``): not secret, made with the private keys.
PUBLIC_KEYS_CONFIGMAP = f"{APP}-service-keys"
#: The name the ``dns`` registry looks each service up by (relative: the pod's own namespace).
DNS_NAME = f"{APP}-{{service}}-headless"
#: Seconds a headless Service's answer may be cached by the cluster DNS (CoreDNS's default TTL).
CLUSTER_DNS_TTL_S = 5
#: Seconds a stopping process gets to finish its work once it receives SIGTERM (as `up` gives).
DRAIN_S = 10
#: Non-root user and group of the image (Containerfile).
UID = 10001
KUBERNETES_VERSION = "1.35.0"
#: Who may scrape ``/metrics``: pods labelled so in a namespace named so (the usual shape of a
#: kube-prometheus install); a kustomize patch on ``network-prometheus.yaml`` changes them.
PROMETHEUS_NAMESPACE = "monitoring"
PROMETHEUS_POD_LABELS = {"app.kubernetes.io/name": "prometheus"}


@dataclass(frozen=True)
class Process:
    """One kind of pod: the gateway (with every local module) or one remote module."""

    name: str
    port: int
    #: The internal listener of a gateway that hosts modules others call (None: no such listener).
    internal_port: int | None
    replicas: int
    autoscale: AutoscaleConfig | None
    modules: tuple[str, ...]  # the modules it hosts
    args: tuple[str, ...]


def processes(manifest: Manifest) -> list[Process]:
    """The gateway first, then each remote module in the manifest's module order."""
    gateway_scale = manifest.gateway.autoscale
    found = [
        Process(
            name=GATEWAY,
            port=manifest.gateway.port,
            internal_port=manifest.gateway_internal_address()[1] if manifest.gateway_serves_ports else None,
            replicas=gateway_scale.min if gateway_scale else 1,
            autoscale=gateway_scale,
            modules=tuple(manifest.local_modules),
            args=("--workers", str(manifest.gateway.workers)),
        )
    ]
    for m in manifest.remote_modules:
        cfg = manifest.module(m)
        assert cfg.port is not None  # checked by check_renderable
        found.append(Process(m, cfg.port, None, cfg.replicas, cfg.autoscale, (m,), ()))
    return found


def host_of(manifest: Manifest, module: str) -> str:
    """The process that serves ``module``."""
    return module if manifest.module(module).placement == "remote" else GATEWAY


def callers(manifest: Manifest) -> dict[str, list[str]]:
    """For each process, the processes allowed to call it: the gateway (it serves every module's
    public routes) and the hosts of every module whose provider asks for a port it hosts."""
    graph = port_dependencies()
    allowed: dict[str, list[str]] = {}
    for proc in processes(manifest):
        names = {GATEWAY}
        for caller, needs in graph.items():
            if any(m in needs for m in proc.modules):
                names.add(host_of(manifest, caller))
        names.discard(proc.name)
        allowed[proc.name] = sorted(names)
    return allowed


def check_renderable(manifest: Manifest, source: str) -> None:
    """Refuse what pods cannot run: files on a pod's own disk are not shared or kept."""
    for m in MODULE_NAMES:
        db = manifest.database_for(m)
        if db.kind != "postgresql":
            raise ManifestError(
                f"{source}: module {m} keeps its data in SQLite; on Kubernetes every module needs "
                "database.kind = 'postgresql' (pods share no disk)"
            )
        if manifest.module(m).database is not None:
            raise ManifestError(
                f"{source}: key 'modules.{m}.database': one database URL per deployment (from the "
                f"{DATABASE_SECRET} secret) is all the renderer references"
            )
        if manifest.module(m).placement == "remote" and manifest.module(m).port is None:
            raise ManifestError(f"{source}: key 'modules.{m}.port' is required to render a remote module")
    if manifest.redis is None:
        raise ManifestError(f"{source}: a [redis] section is required: events between pods travel through it")
    if manifest.security.mtls:
        raise ManifestError(
            f"{source}: key 'security.mtls': the kubelet's probes carry no client certificate; "
            "render with mtls = false and let the cluster's mesh encrypt pod traffic"
        )


def cluster_manifest(manifest: Manifest) -> str:
    """The manifest pods read: DNS discovery, listening on every address, no credentials."""
    raw: dict[str, Any] = msgspec.to_builtins(manifest)
    raw.pop("source")  # where this process read it from, not part of the manifest
    raw["gateway"]["host"] = "0.0.0.0"  # noqa: S104 - a pod's own network namespace
    raw["registry"] = {
        "backend": "dns",
        "dns_name": DNS_NAME,
        "dns_refresh_s": manifest.registry.dns_refresh_s,
    }
    raw["database"]["url"] = "postgresql+asyncpg://set-by-TWITTERCLONE_DATABASE_URL/"
    raw["redis"]["url"] = "redis://set-by-TWITTERCLONE_REDIS_URL/"
    for cfg in raw["modules"].values():
        cfg["host"] = "0.0.0.0"  # noqa: S104
    text = "# Rendered by `twitterclone render kubernetes`; URLs come from secrets.\n" + tomli_w.dumps(
        _without_none(raw)
    )
    parse_manifest(text, source="rendered manifest")  # what pods will read must load
    return text


def render(manifest: Manifest, image: str, *, source: str = "<manifest>") -> dict[str, list[dict[str, Any]]]:
    """Every resource, grouped by the file it is written to (file name → documents)."""
    check_renderable(manifest, source)
    config = cluster_manifest(manifest)
    digest = hashlib.sha256(f"{image}\n{config}".encode()).hexdigest()[:10]
    files: dict[str, list[dict[str, Any]]] = {
        "manifest-configmap.yaml": [_configmap(manifest, config)],
        "migrate-job.yaml": [_migrate_job(manifest, image, digest)],
        "network-default-deny.yaml": [_default_deny(manifest)],
        "network-prometheus.yaml": [_prometheus_policy(manifest)],
        "ingress.yaml": [_ingress(manifest)],
    }
    allowed = callers(manifest)
    config_sha = hashlib.sha256(config.encode()).hexdigest()
    for proc in processes(manifest):
        docs = [_deployment(manifest, proc, image, config_sha)]
        if proc.name == "media":
            docs.append(_media_volume(manifest))
        if proc.autoscale is not None:
            docs.append(_autoscaler(manifest, proc, proc.autoscale))
        docs.append(_disruption_budget(manifest, proc))
        docs.append(_network_policy(manifest, proc, allowed[proc.name]))
        for service in (GATEWAY, *proc.modules) if proc.name == GATEWAY else proc.modules:
            docs += _services(manifest, service, proc)
        files[f"{proc.name}.yaml"] = docs
    names = sorted(files)
    files["kustomization.yaml"] = [
        {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": names}
    ]
    return files


def write(files: dict[str, list[dict[str, Any]]], out: Path) -> list[Path]:
    """Write each file as YAML documents (keys in the order built, so diffs read well)."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in sorted(files):
        path = out / name
        path.write_text(dump(files[name]))
        written.append(path)
    return written


class _Dumper(yaml.SafeDumper):
    """Safe YAML, with text of several lines (the manifest) as a readable ``|`` block."""


def _text(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|" if "\n" in data else None)


_Dumper.add_representer(str, _text)


def dump(docs: list[dict[str, Any]]) -> str:
    """YAML documents, one after another, in a stable form."""
    return "---\n" + "---\n".join(
        yaml.dump(doc, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=100) for doc in docs
    )


# -- resources ----------------------------------------------------------------------------------


def _labels(manifest: Manifest, component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": APP,
        "app.kubernetes.io/instance": manifest.name,
        "app.kubernetes.io/component": component,
    }


def _meta(manifest: Manifest, name: str, component: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "labels": _labels(manifest, component), **extra}


def _configmap(manifest: Manifest, config: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(manifest, f"{APP}-manifest", "config"),
        "data": {"manifest.toml": config},
    }


def _env(manifest: Manifest, *, identity: bool = True) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "TWITTERCLONE_MANIFEST", "value": MANIFEST_FILE},
        {"name": "TWITTERCLONE_DATA_DIR", "value": DATA_DIR},
        *([{"name": "TWITTERCLONE_SERVICE_KEYS_DIR", "value": IDENTITY_DIR}] if identity else []),
        {"name": "TWITTERCLONE_LOG_LEVEL", "value": "INFO"},
    ]
    for var, secret in (
        ("TWITTERCLONE_DATABASE_URL", DATABASE_SECRET),
        ("TWITTERCLONE_REDIS_URL", REDIS_SECRET),
    ):
        env.append({"name": var, "valueFrom": {"secretKeyRef": {"name": secret, "key": "url"}}})
    return env


def _security() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }


def _pod_security() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": UID,
        "runAsGroup": UID,
        "fsGroup": UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _identity_volume(process: str) -> dict[str, Any]:
    """One folder: this process's own private key (its secret) and every service's public key;
    the gateway's secret also holds the key that signs restricted image URLs (every gateway
    replica must sign alike: gateway/media_urls.py)."""
    key = private_key_file(Path(), process).name
    items = [{"key": key, "path": key}]
    if process == GATEWAY:
        items.append({"key": MEDIA_URL_KEY, "path": MEDIA_URL_KEY})
    return {
        "name": "identity",
        "projected": {
            "defaultMode": 0o440,
            "sources": [
                {
                    "secret": {
                        "name": IDENTITY_SECRET.format(service=process),
                        "items": items,
                    }
                },
                {"configMap": {"name": PUBLIC_KEYS_CONFIGMAP}},
            ],
        },
    }


def _volumes(data: dict[str, Any], process: str | None) -> list[dict[str, Any]]:
    return [
        {"name": "manifest", "configMap": {"name": f"{APP}-manifest"}},
        *([_identity_volume(process)] if process is not None else []),
        {"name": "data", **data},
        {"name": "tmp", "emptyDir": {}},
    ]


def _mounts(*, identity: bool = True) -> list[dict[str, Any]]:
    return [
        {"name": "manifest", "mountPath": MANIFEST_DIR, "readOnly": True},
        *([{"name": "identity", "mountPath": IDENTITY_DIR, "readOnly": True}] if identity else []),
        {"name": "data", "mountPath": DATA_DIR},
        {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - the pod's own scratch volume
    ]


def _resources(proc: Process, manifest: Manifest) -> dict[str, Any]:
    # Password hashing (argon2id, 64 MiB each) runs where the users module is: more memory there.
    memory = "1Gi" if "users" in proc.modules else "512Mi"
    workers = manifest.gateway.workers if proc.name == GATEWAY else 1
    return {
        "requests": {"cpu": f"{250 * workers}m", "memory": "256Mi"},
        "limits": {"cpu": str(workers), "memory": memory},
    }


def drain_timing(manifest: Manifest) -> tuple[int, int]:
    """(preStop pause, grace period) in seconds.

    A stopping pod first keeps serving while callers stop picking it: the cluster DNS may cache
    the headless answer for its TTL, and callers look again every ``dns_refresh_s`` (the client's
    breaker covers the rest). Then SIGTERM: the process deregisters, stops its consumers and relays,
    and finishes in-flight requests within ``DRAIN_S``, as under `twitterclone up`.
    """
    pause = CLUSTER_DNS_TTL_S + math.ceil(manifest.registry.dns_refresh_s) + 1
    return pause, pause + DRAIN_S + 5


def _deployment(manifest: Manifest, proc: Process, image: str, config_sha: str) -> dict[str, Any]:
    pause, grace = drain_timing(manifest)
    has_volume = proc.name == "media"  # blobs live in a directory: one writer, kept across restarts
    data = {"persistentVolumeClaim": {"claimName": f"{APP}-media-data"}} if has_volume else {"emptyDir": {}}
    strategy: dict[str, Any] = (
        {"type": "Recreate"}
        if has_volume
        else {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    )
    probe = {"port": "http", "scheme": "HTTP"}
    container = {
        "name": proc.name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "args": [
            "serve",
            "--manifest",
            MANIFEST_FILE,
            "--service",
            proc.name,
            "--host",
            "$(POD_IP)",
            "--port",
            str(proc.port),
            *proc.args,
        ],
        "ports": [
            {"name": "http", "containerPort": proc.port, "protocol": "TCP"},
            *(
                [{"name": "internal", "containerPort": proc.internal_port, "protocol": "TCP"}]
                if proc.internal_port is not None
                else []
            ),
        ],
        "env": _env(manifest),
        "resources": _resources(proc, manifest),
        "startupProbe": {"httpGet": {"path": "/livez", **probe}, "periodSeconds": 2, "failureThreshold": 30},
        "livenessProbe": {
            "httpGet": {"path": "/livez", **probe},
            "periodSeconds": 10,
            "timeoutSeconds": 2,
            "failureThreshold": 3,
        },
        "readinessProbe": {
            "httpGet": {"path": "/readyz", **probe},
            "periodSeconds": 5,
            "timeoutSeconds": 2,
            "failureThreshold": 2,
        },
        "lifecycle": {"preStop": {"sleep": {"seconds": pause}}},
        "securityContext": _security(),
        "volumeMounts": _mounts(),
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(manifest, f"{APP}-{proc.name}", proc.name),
        "spec": {
            # With an autoscaler the count is its own: a `replicas` here would be set back on
            # every `kubectl apply` (Kubernetes' advice: leave it out under an HPA).
            **({} if proc.autoscale is not None else {"replicas": proc.replicas}),
            "revisionHistoryLimit": 5,
            "strategy": strategy,
            "selector": {"matchLabels": _labels(manifest, proc.name)},
            "template": {
                "metadata": {
                    "labels": _labels(manifest, proc.name),
                    # A changed manifest changes this, so `kubectl apply` rolls the pods.
                    "annotations": {"twitterclone/manifest-sha256": config_sha},
                },
                "spec": {
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "terminationGracePeriodSeconds": grace,
                    "securityContext": _pod_security(),
                    "containers": [container],
                    "volumes": _volumes(data, proc.name),
                },
            },
        },
    }


def _media_volume(manifest: Manifest) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": _meta(manifest, f"{APP}-media-data", "media"),
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}},
    }


def _services(manifest: Manifest, service: str, proc: Process) -> list[dict[str, Any]]:
    """A Service for ``service`` (a module or the gateway) and its headless twin for discovery;
    a local module's point at the gateway's pods, which serve it on their internal port."""
    if service != proc.name and proc.internal_port is not None:
        port = {"name": "internal", "port": proc.internal_port, "targetPort": "internal", "protocol": "TCP"}
    else:
        port = {"name": "http", "port": proc.port, "targetPort": "http", "protocol": "TCP"}
    selector = _labels(manifest, proc.name)
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta(manifest, f"{APP}-{service}", proc.name),
            "spec": {"type": "ClusterIP", "selector": selector, "ports": [port]},
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta(manifest, DNS_NAME.format(service=service), proc.name),
            "spec": {"clusterIP": "None", "selector": selector, "ports": [port]},
        },
    ]


def _autoscaler(manifest: Manifest, proc: Process, scale: AutoscaleConfig) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _meta(manifest, f"{APP}-{proc.name}", proc.name),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"{APP}-{proc.name}"},
            "minReplicas": scale.min,
            "maxReplicas": scale.max,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": scale.target},
                    },
                }
            ],
        },
    }


def _disruption_budget(manifest: Manifest, proc: Process) -> dict[str, Any]:
    # One pod at a time: a node drain never takes every replica of a service at once.
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _meta(manifest, f"{APP}-{proc.name}", proc.name),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": _labels(manifest, proc.name)}},
    }


def _network_policy(manifest: Manifest, proc: Process, allowed: list[str]) -> dict[str, Any]:
    def only_from(port: int) -> dict[str, Any]:
        return {
            "from": [{"podSelector": {"matchLabels": _labels(manifest, caller)}} for caller in allowed],
            "ports": [{"protocol": "TCP", "port": port}],
        }

    if proc.name == GATEWAY:
        rules: list[dict[str, Any]] = [{"ports": [{"protocol": "TCP", "port": proc.port}]}]  # public API
        if proc.internal_port is not None and allowed:  # the ports it hosts: their callers only
            rules.append(only_from(proc.internal_port))
    else:
        rules = [only_from(proc.port)]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(manifest, f"{APP}-{proc.name}", proc.name),
        "spec": {
            "podSelector": {"matchLabels": _labels(manifest, proc.name)},
            "policyTypes": ["Ingress"],
            "ingress": rules,
        },
    }


def _default_deny(manifest: Manifest) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(manifest, f"{APP}-default-deny", "network"),
        "spec": {
            "podSelector": {
                "matchLabels": {"app.kubernetes.io/name": APP, "app.kubernetes.io/instance": manifest.name}
            },
            "policyTypes": ["Ingress"],
        },
    }


def _prometheus_policy(manifest: Manifest) -> dict[str, Any]:
    """Prometheus (``PROMETHEUS_*``) may reach every process's port, where ``/metrics`` is served."""
    ports = sorted({proc.port for proc in processes(manifest)})
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(manifest, f"{APP}-allow-prometheus", "network"),
        "spec": {
            "podSelector": {
                "matchLabels": {"app.kubernetes.io/name": APP, "app.kubernetes.io/instance": manifest.name}
            },
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {"kubernetes.io/metadata.name": PROMETHEUS_NAMESPACE}
                            },
                            "podSelector": {"matchLabels": dict(PROMETHEUS_POD_LABELS)},
                        }
                    ],
                    "ports": [{"protocol": "TCP", "port": port} for port in ports],
                }
            ],
        },
    }


def _migrate_job(manifest: Manifest, image: str, digest: str) -> dict[str, Any]:
    # Named by image and manifest: each release gets its own Job (a Job's pod template is immutable).
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _meta(manifest, f"{APP}-migrate-{digest}", "migrate"),
        "spec": {
            "backoffLimit": 4,
            "ttlSecondsAfterFinished": 86400,
            "template": {
                "metadata": {"labels": _labels(manifest, "migrate")},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": _pod_security(),
                    "containers": [
                        {
                            "name": "migrate",
                            "image": image,
                            "imagePullPolicy": "IfNotPresent",
                            "args": ["migrate", "--manifest", MANIFEST_FILE],
                            "env": _env(manifest, identity=False)[1:],
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "128Mi"},
                                "limits": {"cpu": "1", "memory": "512Mi"},
                            },
                            "securityContext": _security(),
                            "volumeMounts": _mounts(identity=False),
                        }
                    ],
                    "volumes": _volumes({"emptyDir": {}}, None),
                },
            },
        },
    }


def _ingress(manifest: Manifest) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": _meta(manifest, f"{APP}-gateway", GATEWAY),
        "spec": {
            "rules": [
                {
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": f"{APP}-gateway", "port": {"name": "http"}}},
                            }
                        ]
                    }
                }
            ]
        },
    }


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None and v != {}}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value
