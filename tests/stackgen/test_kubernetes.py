from __future__ import annotations

import copy

import pytest
import yaml

from mlobs.stackgen import GenerationError, config, generate, kubernetes, kubevalidate
from mlobs.stackgen.alerts import rule_groups

DOCS = kubevalidate.documents()
EVERY = [d for ds in DOCS.values() for d in ds]


def kind(name: str) -> list[dict]:
    return [d for d in EVERY if d["kind"] == name]


def test_the_committed_manifests_validate_strictly_and_offline():
    assert kubevalidate.validate() == len(EVERY) > 20


def test_an_unknown_field_in_a_builtin_or_operator_kind_fails_validation():
    deployment = copy.deepcopy(kind("Deployment")[0])
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbes"] = {}
    with pytest.raises(GenerationError, match="livenessProbes"):
        kubevalidate.validate_document(deployment, "test")
    rule = copy.deepcopy(kind("PrometheusRule")[0])
    rule["spec"]["groups"][0]["rules"][0]["fore"] = "1m"
    with pytest.raises(GenerationError, match="fore"):
        kubevalidate.validate_document(rule, "test")


def test_every_manifest_is_a_generated_file_that_check_compares():
    rendered = {rel for rel in generate.render() if rel.startswith("deploy/kubernetes/")}
    assert rendered and rendered <= generate._existing(config.ROOT)
    assert all(text.startswith(f"# {config.DO_NOT_EDIT}") for rel, text in generate.render().items()
               if rel.startswith("deploy/kubernetes/"))


def test_each_component_has_requests_probes_and_a_non_root_read_only_container():
    names = {d["metadata"]["name"] for d in kind("Deployment")}
    assert names == {"sentiment", "vision", "credit", "drift-exporter", "oncall", "audit-witness"}
    for d in kind("Deployment"):
        pod = d["spec"]["template"]["spec"]
        (c,) = pod["containers"]
        assert c["resources"]["requests"]["cpu"] and c["resources"]["requests"]["memory"]
        assert {"startupProbe", "livenessProbe", "readinessProbe"} <= c.keys()
        assert pod["securityContext"]["runAsNonRoot"] and c["securityContext"]["runAsUser"] != 0
        assert c["securityContext"]["readOnlyRootFilesystem"] and not c["securityContext"]["allowPrivilegeEscalation"]


def test_services_and_the_exporter_read_the_artifacts_the_trainer_writes():
    (job,) = kind("Job")
    trainer_mounts = {m["mountPath"]: m for m in job["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]}
    assert not trainer_mounts[kubernetes.ARTIFACTS_DIR].get("readOnly")
    for name in ("sentiment", "vision", "credit", "drift-exporter"):
        (d,) = [d for d in kind("Deployment") if d["metadata"]["name"] == name]
        volumes = {v["name"]: v for v in d["spec"]["template"]["spec"]["volumes"]}
        assert volumes["artifacts"]["persistentVolumeClaim"]["claimName"] == kubernetes.ARTIFACTS_PVC
        mounts = d["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
        assert {"name": "artifacts", "mountPath": kubernetes.ARTIFACTS_DIR, "readOnly": True} in mounts


def _container(name: str) -> tuple[dict, dict]:
    (d,) = [d for d in kind("Deployment") if d["metadata"]["name"] == name]
    return d["spec"]["template"]["spec"], d["spec"]["template"]["spec"]["containers"][0]


def test_the_audit_witness_runs_the_witness_command():
    _, container = _container("audit-witness")
    assert container["command"][:3] == ["mlobs", "serve", "audit-witness"]


def test_the_audit_witness_gets_every_setting_it_needs_to_start_and_keeps_its_state_on_its_volume():
    pod, container = _container("audit-witness")
    port = int(container["command"][container["command"].index("--port") + 1])
    assert container["ports"][0]["containerPort"] == port
    env = {e["name"]: e for e in container["env"]}
    assert env["MLOBS_AUDIT_WITNESS__SOURCE_URL"]["value"] == "http://credit:8000"
    token = env["MLOBS_AUDIT_WITNESS__TOKEN"]["valueFrom"]["secretKeyRef"]
    assert token["optional"] is False
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    state = mounts[env["MLOBS_AUDIT_WITNESS__DIR"]["value"]]  # a persistent volume, not the read-only root
    assert "persistentVolumeClaim" in volumes[state["name"]]
    key = env["MLOBS_AUDIT_WITNESS__LOG_PUBLIC_KEY"]["value"]
    (key_dir,) = [p for p in mounts if key.startswith(p + "/")]
    assert mounts[key_dir]["readOnly"] and "configMap" in volumes[mounts[key_dir]["name"]]
    # Not /healthz: that turns 503 while the log is unreachable, which no restart or removal from the Service fixes.
    probes = {container[p]["httpGet"]["path"] for p in ("startupProbe", "livenessProbe", "readinessProbe")}
    assert probes == {"/livez"}
    _, credit = _container("credit")
    credit_token = {e["name"]: e for e in credit["env"]}["MLOBS_AUDIT__WITNESS_TOKEN"]["valueFrom"]["secretKeyRef"]
    assert (credit_token["name"], credit_token["key"]) == (token["name"], token["key"])
    assert credit_token["optional"] is True  # without the Secret the credit service still serves, endpoints off


def test_a_service_monitor_scrapes_the_witness_under_the_job_its_stale_alert_reads():
    from mlobs.stackgen.audit_alerts import WITNESS_JOB

    jobs = {m["spec"]["endpoints"][0]["relabelings"][0]["replacement"] for m in kind("ServiceMonitor")}
    assert WITNESS_JOB in jobs


def test_prometheus_rules_hold_the_same_groups_as_the_rule_files():
    from_files = [g for path in sorted((config.ROOT / "alerts").glob("*.rules.yml"))
                  for g in yaml.safe_load(path.read_text())["groups"]]
    from_crds = [g for r in kind("PrometheusRule") for g in r["spec"]["groups"]]
    assert sorted(from_crds, key=lambda g: g["name"]) == sorted(from_files, key=lambda g: g["name"])
    assert len(from_crds) == len(rule_groups())


def test_dashboards_are_config_maps_for_the_grafana_sidecar():
    maps = [m for m in kind("ConfigMap") if m["metadata"]["labels"].get("grafana_dashboard") == "1"]
    boards = sorted(p.stem for p in (config.ROOT / "dashboards/generated").glob("*.json"))
    assert sorted(m["metadata"]["name"].removeprefix("mlobs-dashboard-") for m in maps) == boards


def test_service_monitors_scrape_every_component_under_the_job_names_the_alerts_use():
    jobs = {m["spec"]["endpoints"][0]["relabelings"][0]["replacement"] for m in kind("ServiceMonitor")}
    assert set(config.SCRAPE_JOBS) <= jobs


def test_a_service_monitor_that_selects_nothing_is_an_error():
    docs = copy.deepcopy(DOCS)
    monitors = next(ds for rel, ds in docs.items() if rel.endswith("servicemonitors.yaml"))
    monitors[0]["spec"]["selector"]["matchLabels"] = {"app.kubernetes.io/name": "nothing"}
    with pytest.raises(GenerationError, match="selects no Service"):
        kubevalidate.check_references(config.ROOT, docs)


def test_each_dashboard_config_map_fits_kubectl_applys_annotation_limit():
    # Client-side `kubectl apply` copies the object into an annotation, and annotations hold 256 KiB in all.
    for m in kind("ConfigMap"):
        assert sum(len(v) for v in m["data"].values()) < 200_000, m["metadata"]["name"]


def _secret_ref(name: str, variable: str) -> dict:
    _, container = _container(name)
    return {e["name"]: e for e in container["env"]}[variable]["valueFrom"]["secretKeyRef"]


def test_the_exporter_and_every_service_share_one_optional_ingest_token_secret():
    refs = [_secret_ref(n, "MLOBS_DRIFT__INGEST_TOKEN") for n in ("drift-exporter", "sentiment", "vision", "credit")]
    assert {(r["name"], r["key"], r["optional"]) for r in refs} == {(kubernetes.INGEST_SECRET, "token", True)}


def test_the_receiver_reads_the_token_alertmanagers_generated_config_sends():
    ref = _secret_ref(config.ONCALL_SERVICE, "MLOBS_ONCALL__TOKEN")
    assert (ref["name"], ref["key"], ref["optional"]) == (kubernetes.ONCALL_SECRET, "token", True)
    am = yaml.safe_load((config.ROOT / "stack/alertmanager/alertmanager.yml").read_text())
    hooks = [w for r in am["receivers"] for w in r["webhook_configs"]]
    files = {w["http_config"]["authorization"]["credentials_file"] for w in hooks}
    assert files == {config.ONCALL_TOKEN_FILE}
