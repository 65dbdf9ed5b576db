from __future__ import annotations

from urllib.parse import urlparse

from mlobs.stackgen import config
from mlobs.stackgen.alert_spec import Alert, RecordingRule
from mlobs.stackgen.alerts import rule_groups
from mlobs.stackgen.rule_files import runbook_url
from mlobs.stackgen.ruletests import suites

ALERTS = [r for g in rule_groups() for r in g.rules if isinstance(r, Alert)]
RECORDS = [r for g in rule_groups() for r in g.rules if isinstance(r, RecordingRule)]


def test_every_alert_links_a_runbook_that_exists_in_the_repo():
    base = urlparse(config.RUNBOOK_BASE_URL).path
    for alert in ALERTS:
        path = urlparse(runbook_url(alert)).path
        assert path.startswith(base), alert.name
        runbook = config.ROOT / "alerts" / "runbooks" / alert.runbook
        assert runbook.is_file(), f"{alert.name}: missing {runbook}"
        assert alert.name in runbook.read_text() or "ErrorBudgetBurn" in alert.name or "SLIAbsent" in alert.name


def test_alert_names_are_unique_and_every_alert_pages_or_tickets_but_the_one_prometheus_heartbeat():
    names = [a.name for a in ALERTS]
    assert len(names) == len(set(names))
    assert {a.severity for a in ALERTS} == {"page", "ticket", "heartbeat"}
    [heartbeat] = [a for a in ALERTS if a.severity == "heartbeat"]
    assert heartbeat.name == config.HEARTBEAT_ALERT and heartbeat.expr == "vector(1)" and not heartbeat.grafana


def test_the_service_model_slo_and_drift_alerts_all_exist():
    names = {a.name for a in ALERTS}
    assert {"ServiceDown", "TargetMissing", "OnlineAccuracyDrop", "PredictionClassShift", "RejectedInputSurge",
            "TelemetryDropped", "PredictLatencyErrorBudgetBurnFast", "PredictLatencyErrorBudgetBurnSlow",
            "PredictLatencySLIAbsent", "AvailabilityErrorBudgetBurnFast", "AvailabilityErrorBudgetBurnSlow",
            "AvailabilitySLIAbsent", "InputDriftDetected"} <= names


def test_every_alert_has_a_promtool_case_where_it_fires_and_one_where_it_stays_silent():
    fires, silent = set(), set()
    for suite in suites():
        for case in suite.cases:
            for expect in case.expects:
                (fires if expect.firing else silent).add(expect.alert)
    names = {a.name for a in ALERTS}
    assert names - fires == set()
    assert names - silent == {config.HEARTBEAT_ALERT}  # always firing: its silence is what the receiver pages


def test_every_recording_rule_has_its_value_checked_by_promtool():
    checked = {s.expr for suite in suites() for case in suite.cases for s in case.samples}
    for rule in RECORDS:
        (name, value), = rule.labels.items()
        selector = f'{rule.record}{{{name}="{value}"}}'
        assert any(selector in expr for expr in checked), selector
