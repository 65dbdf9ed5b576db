"""Kubernetes manifests for production, from the same definitions as the compose stack.

deploy/kubernetes/base        kustomize base: the three model services, the drift exporter, the on-call
                              receiver and the audit witness (Deployment + Service each), the one-shot trainer
                              Job and the shared artifacts volume
deploy/kubernetes/monitoring  for the Prometheus Operator and the Grafana sidecar: PrometheusRules (the same
                              groups as alerts/*.rules.yml), ServiceMonitors, dashboard ConfigMaps labelled
                              grafana_dashboard: "1"

Service names equal the compose service names, so the addresses the services use for each other
(http://drift-exporter:9108, Alertmanager's http://oncall:9095/alerts) hold in one namespace too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from mlobs.stackgen import config
from mlobs.stackgen.alert_spec import RuleGroup
from mlobs.stackgen.rule_files import group as rule_group
from mlobs.stackgen.yamlout import dump, dump_all

BASE = "deploy/kubernetes/base"
MONITORING = "deploy/kubernetes/monitoring"
KUBERNETES_VERSION = "1.33.0"  # the manifests are validated against this version's schemas (strict)
IMAGE = "ghcr.io/mlobs/mlobs:0.1.0"  # stack/mlobs/Dockerfile; an overlay sets the registry and tag
USER_ID = 10001  # the image's non-root user
ARTIFACTS_PVC = "mlobs-artifacts"
ARTIFACTS_DIR = "/opt/mlobs/artifacts"
PART_OF = "mlobs"
NAME_LABEL = "app.kubernetes.io/name"


@dataclass(frozen=True)
class Component:
    name: str
    command: tuple[str, ...]
    port: int
    cpu: str
    memory: str
    memory_limit: str
    env: dict[str, str] = field(default_factory=dict)
    artifacts: bool = True          # mounts the shared artifacts read-only
    data_dir: str | None = None     # a persistent volume of its own, mounted here
    data_size: str = "1Gi"
    readiness: str = "/readyz"
    liveness: str = "/healthz"      # startup and liveness probes
    startup_seconds: int = 120      # torch and alibi-detect imports, fitting detectors
    secret_env: dict[str, SecretRef] = field(default_factory=dict)
    config_dirs: dict[str, str] = field(default_factory=dict)  # ConfigMap name -> read-only mount path
    metrics: bool = True            # serves /metrics (a ServiceMonitor scrapes it)


@dataclass(frozen=True)
class SecretRef:
    """An environment variable from a Secret the operator creates (never a value in the manifests)."""

    secret: str
    key: str
    optional: bool = False


def _serve(name: str, port: int) -> tuple[str, ...]:
    return ("mlobs", "serve", name, "--host", "0.0.0.0", "--port", str(port))


OTLP = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel-collector:4318"}
# The root filesystem is read-only: libraries that cache to $HOME (torch, numba, matplotlib) write under /tmp.
WRITABLE_TMP = {"HOME": "/tmp", "XDG_CACHE_HOME": "/tmp/cache", "NUMBA_CACHE_DIR": "/tmp/numba",
                "MPLCONFIGDIR": "/tmp/matplotlib"}
SHIPPER = {"MLOBS_DRIFT__EXPORTER_URL": "http://drift-exporter:9108", "MLOBS_AUDIT__ENABLED": "true", **OTLP}
# The audit witness (docs/audit-witness.md): the operator creates the token Secret, and the ConfigMap holding the
# credit log's public key copied once from the credit pod (the witness's trust; it never reads the log's volume).
WITNESS_SECRET = "mlobs-audit-witness"
WITNESS_LOG_KEY = "mlobs-audit-log-key"
WITNESS_PORT = 8090
WITNESS_DIR = "/var/lib/mlobs/audit-witness"
WITNESS_KEY_DIR = "/etc/mlobs/audit-log-key"
# Tokens of the internal endpoints, from Secrets the operator creates (docs/kubernetes.md): drift samples to the
# exporter's /ingest (it and the three services) and pages to the receiver (it and your Alertmanager's webhook).
# Optional: without a Secret the endpoint is open to every pod that can reach its Service.
INGEST_SECRET = "mlobs-drift-ingest"
ONCALL_SECRET = "mlobs-oncall"
INGEST_TOKEN = {"MLOBS_DRIFT__INGEST_TOKEN": SecretRef(INGEST_SECRET, "token", optional=True)}
ONCALL_TOKEN = {"MLOBS_ONCALL__TOKEN": SecretRef(ONCALL_SECRET, "token", optional=True)}

COMPONENTS = (
    # Every model service's volume holds its audit log, which keeps each prediction for good: about 1 KB a
    # sentiment prediction and 0.7 KB a vision one, so 20Gi hold some 20 to 30 million (docs/kubernetes.md).
    Component("sentiment", _serve("sentiment", 8000), 8000, "250m", "512Mi", "1Gi", SHIPPER,
              data_dir="/var/lib/mlobs", data_size="20Gi", secret_env=INGEST_TOKEN),
    Component("vision", _serve("vision", 8000), 8000, "500m", "1Gi", "2Gi", SHIPPER, data_dir="/var/lib/mlobs",
              data_size="20Gi", secret_env=INGEST_TOKEN),
    # Its witness endpoints answer the witness's token; without the Secret they stay off (403). Its volume holds
    # the audit log: about 2.2 KB a decision for good and 0.7 KB for the raw store's week, so 20Gi hold about
    # 8 million decisions (docs/kubernetes.md, sizing). Its memory grows while SQLite's page caches and the
    # subject key cache fill: about 440 MB after a million new applicants (docs/audit-log.md, disk and memory).
    Component("credit", _serve("credit", 8000), 8000, "250m", "768Mi", "1Gi", SHIPPER, data_dir="/var/lib/mlobs",
              data_size="20Gi",
              secret_env={"MLOBS_AUDIT__WITNESS_TOKEN": SecretRef(WITNESS_SECRET, "token", optional=True),
                          **INGEST_TOKEN}),
    Component("drift-exporter", _serve("drift-exporter", 9108), 9108, "500m", "1Gi", "3Gi", OTLP,
              secret_env=INGEST_TOKEN),
    Component(config.ONCALL_SERVICE, _serve("oncall", config.ONCALL_PORT), config.ONCALL_PORT, "50m", "128Mi",
              "256Mi", {"MLOBS_ONCALL__JOURNAL_PATH": "/var/lib/mlobs/oncall/pages.jsonl"}, artifacts=False,
              data_dir="/var/lib/mlobs/oncall", startup_seconds=30, secret_env=ONCALL_TOKEN),
    # The witness that cosigns audit checkpoints (`mlobs serve audit-witness`): its own state, no models.
    # It exits at start without its source, token and key. Probes ask /livez: its /healthz turns 503 while it
    # cannot reach or verify the log, which neither a restart nor leaving the Service fixes (and out of the
    # Service it would not be scraped); the AuditWitnessStale alert reads that from /metrics instead. Its history
    # grows by about 0.5 KB a poll while the log grows (8 MB a day at the default 5 s): 5Gi last about 20 months.
    Component("audit-witness", _serve("audit-witness", WITNESS_PORT), WITNESS_PORT, "50m", "128Mi", "256Mi",
              {"MLOBS_AUDIT_WITNESS__SOURCE_URL": "http://credit:8000", "MLOBS_AUDIT_WITNESS__DIR": WITNESS_DIR,
               "MLOBS_AUDIT_WITNESS__LOG_PUBLIC_KEY": f"{WITNESS_KEY_DIR}/checkpoint_signing.pub.pem"},
              artifacts=False, data_dir=WITNESS_DIR, data_size="5Gi", readiness="/livez", liveness="/livez",
              startup_seconds=30,
              secret_env={"MLOBS_AUDIT_WITNESS__TOKEN": SecretRef(WITNESS_SECRET, "token")},
              config_dirs={WITNESS_LOG_KEY: WITNESS_KEY_DIR}),
)


def labels(name: str) -> dict[str, str]:
    return {NAME_LABEL: name, "app.kubernetes.io/part-of": PART_OF}


def _security() -> dict:
    return {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
            "runAsUser": USER_ID, "runAsGroup": USER_ID, "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"}}


def _pod_security() -> dict:
    # fsGroup: a new volume is writable by the image's user.
    return {"runAsNonRoot": True, "runAsUser": USER_ID, "runAsGroup": USER_ID, "fsGroup": USER_ID,
            "seccompProfile": {"type": "RuntimeDefault"}}


def _probe(path: str, port: int, **extra) -> dict:
    return {"httpGet": {"path": path, "port": "http"}, "timeoutSeconds": 3, **extra}


def deployment(c: Component) -> dict:
    mounts = [{"name": "tmp", "mountPath": "/tmp"}]
    volumes: list[dict] = [{"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}]
    if c.artifacts:
        mounts.append({"name": "artifacts", "mountPath": ARTIFACTS_DIR, "readOnly": True})
        volumes.append({"name": "artifacts", "persistentVolumeClaim": {"claimName": ARTIFACTS_PVC,
                                                                        "readOnly": True}})
    if c.data_dir:
        mounts.append({"name": "data", "mountPath": c.data_dir})
        volumes.append({"name": "data", "persistentVolumeClaim": {"claimName": f"{c.name}-data"}})
    for name, path in c.config_dirs.items():
        mounts.append({"name": name, "mountPath": path, "readOnly": True})
        volumes.append({"name": name, "configMap": {"name": name}})
    env = [{"name": "MLOBS_ENVIRONMENT", "value": "kubernetes"}, {"name": "OTEL_SERVICE_NAME", "value": c.name},
           *({"name": k, "value": v} for k, v in {**WRITABLE_TMP, **c.env}.items()),
           *({"name": k, "valueFrom": {"secretKeyRef": {"name": ref.secret, "key": ref.key, "optional": ref.optional}}}
             for k, ref in c.secret_env.items())]
    container = {
        "name": c.name, "image": IMAGE, "imagePullPolicy": "IfNotPresent", "command": list(c.command),
        "ports": [{"name": "http", "containerPort": c.port, "protocol": "TCP"}], "env": env,
        "resources": {"requests": {"cpu": c.cpu, "memory": c.memory}, "limits": {"memory": c.memory_limit}},
        "startupProbe": _probe(c.liveness, c.port, periodSeconds=5, failureThreshold=c.startup_seconds // 5),
        "livenessProbe": _probe(c.liveness, c.port, periodSeconds=10, failureThreshold=3),
        "readinessProbe": _probe(c.readiness, c.port, periodSeconds=5, failureThreshold=3),
        "securityContext": _security(), "volumeMounts": mounts,
    }
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": c.name, "labels": labels(c.name)},
        "spec": {
            "replicas": 1,
            # One writer per data volume (an audit log, a journal): the old pod stops before the new one starts.
            "strategy": {"type": "Recreate"} if c.data_dir else {"type": "RollingUpdate"},
            "selector": {"matchLabels": {NAME_LABEL: c.name}},
            "template": {"metadata": {"labels": labels(c.name)},
                         "spec": {"securityContext": _pod_security(), "automountServiceAccountToken": False,
                                  "containers": [container], "volumes": volumes}},
        },
    }


def service(c: Component) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": c.name, "labels": labels(c.name)},
            "spec": {"selector": {NAME_LABEL: c.name},
                     "ports": [{"name": "http", "port": c.port, "targetPort": "http", "protocol": "TCP"}]}}


def claim(name: str, size: str, mode: str) -> dict:
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "labels": labels(name)},
            "spec": {"accessModes": [mode], "resources": {"requests": {"storage": size}}}}


def trainer_job() -> dict:
    """Trains the three models once into the shared artifacts volume (model versions are content hashes, so
    the services and the drift exporter must read the same files)."""
    script = " && ".join(f"mlobs train {m} --quiet" for m in ("sentiment", "vision", "credit"))
    return {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "mlobs-trainer", "labels": labels("trainer")},
        "spec": {"backoffLimit": 2, "template": {"metadata": {"labels": labels("trainer")}, "spec": {
            "restartPolicy": "OnFailure", "securityContext": _pod_security(), "automountServiceAccountToken": False,
            "containers": [{
                "name": "trainer", "image": IMAGE, "imagePullPolicy": "IfNotPresent", "command": ["sh", "-c", script],
                "env": [{"name": k, "value": v} for k, v in WRITABLE_TMP.items()],
                "resources": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"memory": "4Gi"}},
                "securityContext": _security(),
                "volumeMounts": [{"name": "artifacts", "mountPath": ARTIFACTS_DIR},
                                 {"name": "tmp", "mountPath": "/tmp"}]}],
            "volumes": [{"name": "artifacts", "persistentVolumeClaim": {"claimName": ARTIFACTS_PVC}},
                        {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}]}}},
    }


def base_files() -> dict[str, str]:
    src = "src/mlobs/stackgen/kubernetes.py"
    files = {f"{BASE}/artifacts.yaml": _docs([
        # ReadWriteMany: the trainer writes once, pods on any node read.
        claim(ARTIFACTS_PVC, "2Gi", "ReadWriteMany"), trainer_job()], src)}
    for c in COMPONENTS:
        docs = [deployment(c), service(c)]
        if c.data_dir:
            docs.append(claim(f"{c.name}-data", c.data_size, "ReadWriteOnce"))
        files[f"{BASE}/{c.name}.yaml"] = _docs(docs, src)
    files[f"{BASE}/kustomization.yaml"] = dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "labels": [{"pairs": {"app.kubernetes.io/part-of": PART_OF}}],
        "resources": sorted(Path(p).name for p in files),
    }, source=src)
    return files


# --- monitoring: Prometheus Operator and the Grafana sidecar -------------------------------------

def prometheus_rules(groups: list[RuleGroup]) -> list[dict]:
    by_file: dict[str, list[dict]] = {}
    for g in groups:
        by_file.setdefault(g.file, []).append(rule_group(g))
    return [{"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
             "metadata": {"name": f"mlobs-{stem}", "labels": labels(f"rules-{stem}")},
             "spec": {"groups": gs}} for stem, gs in by_file.items()]


def service_monitors() -> list[dict]:
    return [{"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
             "metadata": {"name": c.name, "labels": labels(c.name)},
             "spec": {"selector": {"matchLabels": {NAME_LABEL: c.name}},
                      "endpoints": [{"port": "http", "path": "/metrics", "interval": "15s",
                                     # The job label the alerts match on (config.SCRAPE_JOBS): the service name.
                                     "relabelings": [{"targetLabel": "job", "replacement": c.name}]}]}}
            for c in COMPONENTS if c.metrics]


def dashboard_config_maps(dashboards: dict[str, str]) -> list[dict]:
    """dashboards: {repo path of a generated dashboard: its JSON text}."""
    out = []
    for rel, source in sorted(dashboards.items()):
        path = Path(rel)
        text = json.dumps(json.loads(source), sort_keys=True, separators=(",", ":"))
        out.append({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": f"mlobs-dashboard-{path.stem}",
                                 "labels": {**labels(f"dashboard-{path.stem}"), "grafana_dashboard": "1"},
                                 "annotations": {"grafana_folder": config.GRAFANA_FOLDER}},
                    "data": {f"mlobs-{path.stem}.json": text}})
    return out


def monitoring_files(groups: list[RuleGroup], dashboards: dict[str, str]) -> dict[str, str]:
    src = "src/mlobs/stackgen/kubernetes.py"
    files = {
        f"{MONITORING}/prometheusrules.yaml": _docs(prometheus_rules(groups), src + " (rules: alerts.py, slos.py)"),
        f"{MONITORING}/servicemonitors.yaml": _docs(service_monitors(), src),
        f"{MONITORING}/dashboards.yaml": _docs(dashboard_config_maps(dashboards), src + " (dashboards/*.dashboard.py)"),
    }
    files[f"{MONITORING}/kustomization.yaml"] = dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "resources": sorted(Path(p).name for p in files)}, source=src)
    return files


def files(groups: list[RuleGroup], dashboards: dict[str, str]) -> dict[str, str]:
    return {**base_files(), **monitoring_files(groups, dashboards)}


def _docs(docs: list[dict], source: str) -> str:
    return dump_all(docs, source=source)
