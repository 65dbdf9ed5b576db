"""The Grafana, Alertmanager and dashboard outputs say what the definitions say."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from mlobs.stackgen import config, grafana
from mlobs.stackgen.alert_spec import Alert
from mlobs.stackgen.alerts import rule_groups
from mlobs.stackgen.generate import render

FILES = render()
ALERTS = {r.name: r for g in rule_groups() for r in g.rules if isinstance(r, Alert)}


def _yaml(prefix: str) -> list[dict]:
    return [yaml.safe_load(text) for rel, text in FILES.items() if rel.startswith(prefix)]


def test_grafana_alert_provisioning_has_every_alert_but_the_prometheus_heartbeat_once_with_a_stable_uid():
    rules = [r for doc in _yaml("stack/grafana/alerting/") for g in doc.get("groups", []) for r in g["rules"]]
    # A Grafana copy of the heartbeat would keep beating while Prometheus is down.
    assert sorted(r["title"] for r in rules) == sorted(set(ALERTS) - {config.HEARTBEAT_ALERT})
    assert len({r["uid"] for r in rules}) == len(rules)
    assert all(len(r["uid"]) <= 40 for r in rules)
    for r in rules:
        alert = ALERTS[r["title"]]
        assert r["for"] == alert.for_ and r["labels"]["severity"] == alert.severity
        assert r["annotations"]["runbook_url"].endswith(alert.runbook)
        assert r["data"][0]["datasourceUid"] == config.PROMETHEUS_UID and r["condition"] == "C"


def test_grafana_rules_inline_the_slo_recording_rules_they_cannot_see():
    rules = {r["title"]: r for doc in _yaml("stack/grafana/alerting/") for g in doc.get("groups", [])
             for r in g["rules"]}
    expr = rules["PredictLatencyErrorBudgetBurnFast"]["data"][0]["model"]["expr"]
    assert "slo:" not in expr and 'le="0.2"' in expr and "[1h]" in expr
    assert rules["PredictLatencyErrorBudgetBurnSlow"]["data"][0]["relativeTimeRange"]["from"] == 3 * 86400
    assert grafana.uid("ServiceDown") == "mlobs-servicedown"


def _route(*labels: str, file: str = "stack/alertmanager/alertmanager.yml") -> str:
    out = subprocess.run(["amtool", "config", "routes", "test", f"--config.file={config.ROOT / file}", *labels],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_alertmanager_routes_pages_and_tickets_to_their_receivers():
    assert _route("severity=page", "alertname=ServiceDown") == "oncall-page"
    assert _route("severity=ticket", "alertname=TelemetryDropped") == "oncall-ticket"


@pytest.mark.parametrize("file, receiver", [("stack/alertmanager/alertmanager.yml", "oncall-heartbeat"),
                                            ("stack/alertmanager/examples/slack.yml", "dead-mans-switch"),
                                            ("stack/alertmanager/examples/pagerduty.yml", "dead-mans-switch")])
def test_every_alertmanager_config_sends_the_heartbeat_to_a_dead_mans_switch_and_nothing_else_there(file, receiver):
    assert _route(f"alertname={config.HEARTBEAT_ALERT}", "severity=heartbeat", file=file) == receiver
    assert _route("alertname=ServiceDown", "severity=page", file=file) != receiver
    assert _route("alertname=Unknown", file=file) != receiver
    am = yaml.safe_load((config.ROOT / file).read_text())
    [hook] = next(r for r in am["receivers"] if r["name"] == receiver)["webhook_configs"]
    assert hook["send_resolved"] is False  # a resolved heartbeat is its absence, never a beat


def test_alertmanager_holds_the_slo_ticket_while_its_page_fires():
    am = yaml.safe_load(FILES["stack/alertmanager/alertmanager.yml"])
    assert {"source_matchers": ['slo="predict-latency"', 'severity="page"'],
            "target_matchers": ['slo="predict-latency"', 'severity="ticket"'],
            "equal": ["service"]} in am["inhibit_rules"]


def test_every_dashboard_has_the_shared_variables_a_stable_uid_and_runbook_links():
    boards = {rel: json.loads(text) for rel, text in FILES.items() if rel.startswith("dashboards/generated/")}
    assert {rel.rsplit("/", 1)[1] for rel in boards} == {
        "service-overview.json", "model-quality.json", "slo.json", "logs-traces.json", "business.json", "drift.json",
        "audit-security.json"}
    for rel, board in boards.items():
        names = [v["name"] for v in board["templating"]["list"]]
        assert names == ["environment", "service", "model", "model_version"], rel
        assert board["uid"] == "mlobs-" + rel.rsplit("/", 1)[1].removesuffix(".json")
        assert any("runbooks/slo-predict-latency.md" in link["url"] for link in board["links"])
        assert board["annotations"]["list"][0]["name"] == "Model version changes"


def test_the_latency_panel_shows_exemplars_from_prometheus():
    board = json.loads(FILES["dashboards/generated/service-overview.json"])
    targets = [t for p in board["panels"] for t in p.get("targets", [])]
    assert any(t.get("exemplar") and "mlobs_http_request_duration_seconds_bucket" in t["expr"] for t in targets)
    assert all(t["datasource"] == {"type": "prometheus", "uid": "prometheus"} for t in targets)


def test_datasources_have_stable_uids_and_link_metrics_logs_and_traces():
    (doc,) = _yaml("stack/grafana/provisioning/datasources/")
    ds = {d["uid"]: d for d in doc["datasources"]}
    assert set(ds) == {"prometheus", "loki", "tempo", "alertmanager"}
    assert ds["prometheus"]["jsonData"]["exemplarTraceIdDestinations"] == [
        {"name": "trace_id", "datasourceUid": "tempo"}]
    assert ds["loki"]["jsonData"]["derivedFields"][0]["datasourceUid"] == "tempo"
    assert ds["loki"]["jsonData"]["derivedFields"][0]["url"] == "$${__value.raw}"  # `$$` is a literal `$`
    assert ds["tempo"]["jsonData"]["tracesToLogsV2"]["datasourceUid"] == "loki"
    assert ds["tempo"]["jsonData"]["tracesToMetrics"]["datasourceUid"] == "prometheus"


def test_the_dashboard_provider_points_at_the_generated_json():
    (doc,) = _yaml("stack/grafana/provisioning/dashboards/")
    assert doc["providers"][0]["options"]["path"] == config.GRAFANA_DASHBOARDS_PATH


def test_grafana_managed_rules_are_kept_out_of_the_provisioning_the_stack_mounts():
    assert not [rel for rel in FILES if rel.startswith("stack/grafana/provisioning/alerting")]
    datasources = yaml.safe_load(FILES["stack/grafana/provisioning/datasources/datasources.yml"])["datasources"]
    am = next(d for d in datasources if d["type"] == "alertmanager")
    assert am["jsonData"]["handleGrafanaManagedAlerts"] is False


def test_grafana_managed_rules_ship_with_a_contact_point_and_policy_that_hand_alerts_to_alertmanager():
    (notifications,) = [yaml.safe_load(t) for rel, t in FILES.items()
                        if rel == "stack/grafana/alerting/notifications.yml"]
    (point,) = notifications["contactPoints"]
    (receiver,) = point["receivers"]
    assert receiver["type"] == "prometheus-alertmanager" and receiver["settings"]["url"] == config.ALERTMANAGER_URL
    assert notifications["policies"][0]["receiver"] == point["name"]
