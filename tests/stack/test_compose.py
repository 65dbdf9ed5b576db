"""The compose file is valid for the real Compose tool and consistent with the generated configs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from mlobs.stackgen import config, prometheus_config, provisioning

ROOT = config.ROOT
COMPOSE = ROOT / "docker-compose.yml"


def compose_tool() -> str:
    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.fail("docker-compose is not installed: run scripts/system-deps.sh (Debian package docker-compose)")
    return tool


def compose_config(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([compose_tool(), "-f", str(COMPOSE), "config"], capture_output=True, text=True,
                          env={**os.environ, **env}, cwd=ROOT, timeout=60)


@pytest.fixture(scope="module")
def compose() -> dict:
    result = compose_config({})
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_compose_file_validates_with_the_real_compose_tool(compose):
    assert {"sentiment", "vision", "credit", "drift-exporter", "prometheus", "alertmanager", "otel-collector",
            "loki", "tempo", "grafana"} <= compose["services"].keys()


@pytest.mark.slow  # a second run of the real docker-compose
def test_compose_needs_no_variable_and_interpolates_none():
    env = {k: v for k, v in os.environ.items() if not k.startswith("GF_")}
    result = subprocess.run([compose_tool(), "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True,
                            env=env, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "${" not in COMPOSE.read_text()


def test_grafana_has_no_known_admin_password_but_one_generated_on_first_run(compose):
    grafana = compose["services"]["grafana"]
    env = grafana["environment"]
    assert "GF_SECURITY_ADMIN_PASSWORD" not in env
    secret_file = env["GF_SECURITY_ADMIN_PASSWORD__FILE"]
    mounts = {v["target"] if isinstance(v, dict) else v.split(":")[1]: v for v in grafana["volumes"]}
    assert any(secret_file.startswith(target) for target in mounts)
    assert grafana["depends_on"]["grafana-secret"]["condition"] == "service_completed_successfully"
    generator = " ".join(compose["services"]["grafana-secret"]["command"])
    assert "secrets.token_urlsafe" in generator and "p.exists() or" in generator  # once, never overwritten


def test_every_image_is_pinned_to_a_version(compose):
    for name, service in compose["services"].items():
        if "build" in service:
            continue
        image = service["image"]
        assert re.search(r":v?\d+\.\d+\.\d+$", image), f"{name}: image {image} is not pinned to a version"


def test_built_services_use_dockerfiles_that_exist(compose):
    for name, service in compose["services"].items():
        if "build" in service:
            dockerfile = Path(service["build"]["context"]) / service["build"]["dockerfile"]
            assert dockerfile.is_file(), f"{name}: {dockerfile} is missing"


def _has_healthcheck(service: dict) -> bool:
    if "healthcheck" in service:
        return not service["healthcheck"].get("disable", False)
    if "build" in service:
        dockerfile = Path(service["build"]["context"]) / service["build"]["dockerfile"]
        return "HEALTHCHECK" in dockerfile.read_text()
    return False


def test_waiting_for_healthy_is_only_on_services_with_a_healthcheck(compose):
    services = compose["services"]
    for name, service in services.items():
        for dep, how in (service.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            if how["condition"] == "service_healthy":
                assert _has_healthcheck(services[dep]), f"{name} waits for {dep} to be healthy; it has no healthcheck"


def test_model_services_send_traces_to_the_collector_and_samples_to_the_exporter(compose):
    for name in config.SCRAPE_JOBS:
        if name == "drift-exporter":
            continue
        env = compose["services"][name]["environment"]
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
        assert env["OTEL_SERVICE_NAME"] == name
        assert env["MLOBS_DRIFT__EXPORTER_URL"] == "http://drift-exporter:9108"


def test_prometheus_runs_with_the_generated_config_flags_and_rules(compose):
    prometheus = compose["services"]["prometheus"]
    assert set(prometheus_config.FLAGS) <= set(prometheus["command"])
    mounts = {v.split(":")[1]: v.split(":")[0] for v in prometheus["volumes"] if v.startswith("/")}
    assert Path(mounts["/etc/prometheus/prometheus.yml"]) == ROOT / prometheus_config.COMPOSE_PATH
    assert Path(mounts[prometheus_config.COMPOSE_RULES_DIR]) == ROOT / "alerts"


def test_every_host_the_prometheus_config_scrapes_is_a_compose_service(compose):
    generated = yaml.safe_load((ROOT / prometheus_config.COMPOSE_PATH).read_text())
    targets = [t for job in generated["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]]
    targets += [t for am in generated["alerting"]["alertmanagers"] for sc in am["static_configs"]
                for t in sc["targets"]]
    for target in targets:
        host = target.split(":")[0]
        assert host == "localhost" or host in compose["services"], f"{target} is not a compose service"


def test_every_grafana_datasource_points_at_a_compose_service(compose):
    for ds in provisioning.datasources()["datasources"]:
        host = re.match(r"https?://([^:/]+)", ds["url"]).group(1)
        assert host in compose["services"], f"datasource {ds['name']} points at {host}"


def test_grafana_mounts_the_provisioning_and_the_generated_dashboards(compose):
    mounts = {v.split(":")[1]: Path(v.split(":")[0]) for v in compose["services"]["grafana"]["volumes"]
              if v.startswith("/")}
    assert mounts["/etc/grafana/provisioning"] == ROOT / "stack/grafana/provisioning"
    assert mounts[config.GRAFANA_DASHBOARDS_PATH] == ROOT / "dashboards/generated"


def test_compose_file_matches_the_newer_compose_specification():
    compose_spec = pytest.importorskip("compose_spec")
    spec = compose_spec.PyCompose.from_yaml(COMPOSE.read_text())
    spec.validate()
    assert "grafana" in spec.service_names()


def test_every_healthcheck_has_a_start_period(compose):
    for name, service in compose["services"].items():
        if "healthcheck" in service:
            assert service["healthcheck"].get("start_period"), f"{name}: no start_period"


def test_the_services_and_the_exporter_read_the_artifacts_the_trainer_wrote(compose):
    services = compose["services"]
    assert "artifacts:/opt/mlobs/artifacts" in [_short(v) for v in services["trainer"]["volumes"]]
    for name in ("sentiment", "vision", "credit", "drift-exporter"):
        assert "artifacts:/opt/mlobs/artifacts:ro" in [_short(v) for v in services[name]["volumes"]], name
        assert services[name]["depends_on"]["trainer"]["condition"] == "service_completed_successfully", name
    for name in ("sentiment", "vision", "credit"):
        assert services[name]["depends_on"]["drift-exporter"]["condition"] == "service_healthy"
    assert "/readyz" in " ".join(services["drift-exporter"]["healthcheck"]["test"])


def _short(volume) -> str:
    """A volume as `source:target[:ro]`, whichever syntax `docker-compose config` printed."""
    if isinstance(volume, str):
        return volume.removesuffix(":rw")
    return f"{volume['source']}:{volume['target']}" + (":ro" if volume.get("read_only") else "")


def test_the_audit_witness_watches_the_credit_log_with_a_generated_token_and_a_pinned_key(compose):
    services = compose["services"]
    witness, credit = services["audit-witness"], services["credit"]
    token = "/var/lib/mlobs/audit-witness-token/token"
    generator = " ".join(services["audit-witness-token"]["command"])
    assert "secrets.token_urlsafe" in generator and "p.exists() or" in generator  # once, never a known default
    # `$$` is Compose's escape for one `$` reaching the container's shell (the config output keeps it).
    assert f"MLOBS_AUDIT__WITNESS_TOKEN=\"$$(cat {token})\"" in credit["command"][-1]
    assert f"MLOBS_AUDIT_WITNESS__TOKEN=\"$$(cat {token})\"" in witness["command"][-1]
    assert "serve audit-witness --host 0.0.0.0 --port 8090" in witness["command"][-1]
    assert witness["environment"]["MLOBS_AUDIT_WITNESS__SOURCE_URL"] == "http://credit:8000"
    mounts = {_short(v) for v in witness["volumes"]}
    assert not any(m.startswith("credit-data:") for m in mounts)  # the witness never reads the log's own files
    key = witness["environment"]["MLOBS_AUDIT_WITNESS__LOG_PUBLIC_KEY"]
    assert "audit-log-key:/var/lib/mlobs/audit-log-key:ro" in mounts and key.startswith("/var/lib/mlobs/audit-log-key/")
    assert "audit-witness:/var/lib/mlobs/audit-witness" in mounts
    assert witness["environment"]["MLOBS_AUDIT_WITNESS__DIR"] == "/var/lib/mlobs/audit-witness"
    publisher = services["audit-log-key"]
    assert publisher["depends_on"]["credit"]["condition"] == "service_healthy"
    assert "p.exists() or shutil.copyfile('/credit-data/keys/checkpoint_signing.pub.pem'" in publisher["command"][-1]
    assert witness["depends_on"]["audit-log-key"]["condition"] == "service_completed_successfully"
    assert "8090/healthz" in " ".join(witness["healthcheck"]["test"])


def test_every_published_port_is_on_the_hosts_loopback_only(compose):
    # Prometheus (with its lifecycle API), Alertmanager's silences, the exporter's ingest and the receiver's
    # pages would otherwise answer anyone who can reach the host.
    published = [(name, port) for name, service in compose["services"].items() for port in service.get("ports", [])]
    assert published
    assert [(n, p) for n, p in published if not str(p).startswith("127.0.0.1:")] == []


def test_drift_samples_and_pages_need_tokens_made_once_on_the_first_run(compose):
    services = compose["services"]
    generator = services["internal-tokens"]["command"][-1]
    assert "secrets.token_urlsafe" in generator and "p.exists() or" in generator
    ingest = "MLOBS_DRIFT__INGEST_TOKEN=\"$$(cat /var/lib/mlobs/drift-ingest-token/token)\""
    for name in ("sentiment", "vision", "credit", "drift-exporter"):
        assert ingest in services[name]["command"][-1], name
        mounts = {_short(v) for v in services[name]["volumes"]}
        assert "drift-ingest-token:/var/lib/mlobs/drift-ingest-token:ro" in mounts
        assert services[name]["depends_on"]["internal-tokens"]["condition"] == "service_completed_successfully"
    oncall, am = services["oncall"], services["alertmanager"]
    assert "MLOBS_ONCALL__TOKEN=\"$$(cat /var/lib/mlobs/oncall-token/token)\"" in oncall["command"][-1]
    assert "oncall-token:/var/lib/mlobs/oncall-token:ro" in {_short(v) for v in oncall["volumes"]}
    # Alertmanager reads the same file through its own mount of the volume, at the path its config names.
    mount = next(m for m in map(_short, am["volumes"]) if m.startswith("oncall-token:"))
    target = mount.split(":")[1]
    generated = yaml.safe_load((ROOT / "stack/alertmanager/alertmanager.yml").read_text())
    files = {w["http_config"]["authorization"]["credentials_file"]
             for r in generated["receivers"] for w in r["webhook_configs"]}
    assert files == {f"{target}/token"}
    assert am["depends_on"]["internal-tokens"]["condition"] == "service_completed_successfully"
    # The services never mount the receiver's token, nor the receiver the exporter's.
    assert not any(_short(v).startswith("oncall-token:") for n in ("sentiment", "vision", "credit", "drift-exporter")
                   for v in services[n]["volumes"])
    assert not any(_short(v).startswith("drift-ingest-token:") for v in oncall["volumes"] + am["volumes"])


def test_the_image_has_a_directory_owned_by_its_user_for_each_token_volume(compose):
    dockerfile = (ROOT / "stack/mlobs/Dockerfile").read_text()
    for volume in ("drift-ingest-token", "oncall-token", "audit-witness-token"):
        assert f"/var/lib/mlobs/{volume}" in dockerfile  # a new named volume takes the image directory's owner
