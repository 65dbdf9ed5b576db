from __future__ import annotations

import re

import pytest
import yaml

from mlobs.stackgen import GenerationError, config, prometheus_config
from mlobs.stackgen.alert_spec import Alert
from mlobs.stackgen.alerts import rule_groups
from mlobs.stackgen.generate import render

PORTS = {"sentiment": 1, "vision": 2, "credit": 3, "drift-exporter": 4}


def local() -> dict:
    return prometheus_config.local_config(PORTS, alertmanager_port=9, rule_files=["/r/slo.rules.yml"], interval="1s")


def test_compose_and_local_configs_scrape_the_same_model_jobs():
    compose_jobs = [j["job_name"] for j in prometheus_config.compose_config()["scrape_configs"]]
    local_jobs = [j["job_name"] for j in local()["scrape_configs"]]
    assert local_jobs == list(config.SCRAPE_JOBS)
    assert compose_jobs[:len(config.SCRAPE_JOBS)] == list(config.SCRAPE_JOBS)


def test_local_config_scrapes_loopback_and_alerts_the_local_alertmanager():
    cfg = local()
    targets = {j["job_name"]: j["static_configs"][0]["targets"] for j in cfg["scrape_configs"]}
    assert targets["vision"] == ["127.0.0.1:2"]
    assert cfg["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["127.0.0.1:9"]
    assert cfg["rule_files"] == ["/r/slo.rules.yml"]
    assert cfg["global"]["scrape_interval"] == cfg["global"]["evaluation_interval"] == "1s"


def test_every_target_carries_the_environment_label():
    for job in local()["scrape_configs"]:
        assert job["static_configs"][0]["labels"] == {"environment": "local"}


def test_a_missing_model_job_fails_generation():
    with pytest.raises(GenerationError, match="missing: credit"):
        prometheus_config.config_dict({k: "h:1" for k in PORTS if k != "credit"}, alertmanager="a:1",
                                      rule_files=[], environment="x")


def test_an_infrastructure_job_cannot_take_a_model_job_name():
    with pytest.raises(GenerationError, match="vision"):
        prometheus_config.config_dict({k: "h:1" for k in PORTS}, alertmanager="a:1", rule_files=[],
                                      environment="x", infra={"vision": "h:2"})


def test_the_compose_config_is_generated_with_a_do_not_edit_header_and_reads_the_mounted_rules():
    text = render()[prometheus_config.COMPOSE_PATH]
    assert text.startswith(f"# {config.DO_NOT_EDIT}")
    assert yaml.safe_load(text)["rule_files"] == [f"{prometheus_config.COMPOSE_RULES_DIR}/*.rules.yml"]


def test_exemplar_storage_and_the_remote_write_receiver_are_enabled_by_flag():
    assert "--enable-feature=exemplar-storage" in prometheus_config.FLAGS
    assert "--web.enable-remote-write-receiver" in prometheus_config.FLAGS


def test_every_alert_that_waits_its_for_is_restored_after_a_prometheus_restart():
    # Prometheus restores the `for` state only of alerts whose `for` is at least the grace period; the others
    # would wait it again after a restart, and Alertmanager would resolve them meanwhile.
    grace = next(f.split("=", 1)[1] for f in prometheus_config.FLAGS if f.startswith("--rules.alert.for-grace-period="))
    waiting = [r for g in rule_groups() for r in g.rules if isinstance(r, Alert) and _seconds(r.for_) > 0]
    assert {"EstimatedAccuracyDrop", "InputDriftDetected", "AvailabilityErrorBudgetBurnFast",
            "DriftEvaluationStale"} <= {r.name for r in waiting}
    assert [r.name for r in waiting if _seconds(r.for_) < _seconds(grace)] == []


def _seconds(duration: str) -> int:
    return sum(int(n) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[u] for n, u in re.findall(r"(\d+)([smhd])", duration))
