"""Grafana-managed alert rules (file provisioning, apiVersion 1) from the same definitions as the Prometheus rules.

They are for a production Grafana that evaluates alerts itself instead of Prometheus. The stacks here (compose,
`make local`) never load them: Prometheus evaluates every rule and Alertmanager routes it, so one alert is
evaluated once and pages once. They are written to ALERTING_DIR, outside the provisioning directory the compose
stack mounts, with a contact point that hands every alert to Alertmanager (same routing, inhibition and on-call
receiver) and a notification policy that sends everything there. Copy the directory into Grafana's
provisioning/alerting/ to use them, and stop loading the Prometheus rule files in that Grafana's Prometheus.

Each rule queries Prometheus (A) with the alert's expression turned into 1 per firing series, reduces it to
the last value (B) and fires when B > 0 (C). No data means no firing series: state OK.
"""

from __future__ import annotations

import hashlib
import re

from mlobs.stackgen import GenerationError, config
from mlobs.stackgen.alert_spec import Alert, RecordingRule, RuleGroup
from mlobs.stackgen.rule_files import runbook_url
from mlobs.stackgen.yamlout import dump

EXPR_UID = "__expr__"
_RECORDED = re.compile(r"\b(slo:[a-z_:0-9]+)")


def _seconds(duration: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([smhd])", duration))


def uid(name: str) -> str:
    """Stable rule uid within Grafana's 40 characters: the name, or its head plus a hash of the whole."""
    out = "mlobs-" + name.lower()
    if len(out) > 40:
        out = out[:31] + "-" + hashlib.sha256(name.encode()).hexdigest()[:8]
    return out


def inline_recordings(expr: str, records: dict[tuple[str, str], str]) -> str:
    """Grafana has no recording rules of ours: replace each `record{slo="x"}` by its expression."""
    out = expr
    for (record, selector), body in records.items():
        out = out.replace(f"{record}{selector}", f"({body})")
    if _RECORDED.search(out):
        raise GenerationError(f"alert expression reads a recording rule Grafana cannot inline: {expr}")
    return out


def rule(alert: Alert, records: dict[tuple[str, str], str]) -> dict:
    expr = inline_recordings(alert.expr, records)
    lookback = max([_seconds(w) for w in re.findall(r"\[(\d+[smhd])\]", expr)] + [600])
    return {
        "uid": uid(alert.name),
        "title": alert.name,
        "condition": "C",
        "data": [
            {"refId": "A", "relativeTimeRange": {"from": lookback, "to": 0}, "datasourceUid": config.PROMETHEUS_UID,
             "model": {"refId": "A", "expr": f"({expr}) * 0 + 1", "instant": True, "range": False,
                       "intervalMs": 60000, "maxDataPoints": 43200}},
            {"refId": "B", "datasourceUid": EXPR_UID,
             "model": {"refId": "B", "type": "reduce", "expression": "A", "reducer": "last",
                       "settings": {"mode": "dropNN"}}},
            {"refId": "C", "datasourceUid": EXPR_UID,
             "model": {"refId": "C", "type": "threshold", "expression": "B",
                       "conditions": [{"evaluator": {"type": "gt", "params": [0]}}]}},
        ],
        "noDataState": "OK",
        "execErrState": "Error",
        "for": alert.for_,
        "labels": {"severity": alert.severity, **alert.labels},
        "annotations": {"summary": alert.summary, "description": alert.description,
                        "runbook_url": runbook_url(alert)},
        "isPaused": False,
    }


def _records(groups: list[RuleGroup]) -> dict[tuple[str, str], str]:
    out = {}
    for g in groups:
        for r in g.rules:
            if isinstance(r, RecordingRule):
                selector = "{" + ", ".join(f'{k}="{v}"' for k, v in r.labels.items()) + "}"
                out[(r.record, selector)] = r.expr
    return out


def files(groups: list[RuleGroup]) -> dict[str, str]:
    records = _records(groups)
    by_file: dict[str, list[dict]] = {}
    for g in groups:
        alerts = [r for r in g.rules if isinstance(r, Alert) and r.grafana]
        if alerts:
            by_file.setdefault(g.file, []).append({
                "orgId": config.GRAFANA_ORG_ID, "name": g.name, "folder": config.GRAFANA_FOLDER,
                "interval": config.RULE_INTERVAL, "rules": [rule(a, records) for a in alerts],
            })
    out = {
        f"{ALERTING_DIR}/{stem}.yml": dump(
            {"apiVersion": 1, "groups": gs}, source="src/mlobs/stackgen/alerts.py, slos.py (Grafana-managed rules)")
        for stem, gs in by_file.items()
    }
    src = "src/mlobs/stackgen/grafana.py (contact point and notification policy for the Grafana-managed rules)"
    out[f"{ALERTING_DIR}/notifications.yml"] = dump(notifications(), source=src)
    return out


ALERTING_DIR = "stack/grafana/alerting"
CONTACT_POINT = "mlobs-alertmanager"


def notifications() -> dict:
    """One contact point, Alertmanager itself, and a policy sending every alert to it: Grafana-managed alerts
    then reach the on-call receiver through the same routes and inhibitions as Prometheus's."""
    return {
        "apiVersion": 1,
        "contactPoints": [{"orgId": config.GRAFANA_ORG_ID, "name": CONTACT_POINT, "receivers": [{
            "uid": CONTACT_POINT, "type": "prometheus-alertmanager", "disableResolveMessage": False,
            "settings": {"url": config.ALERTMANAGER_URL}}]}],
        "policies": [{"orgId": config.GRAFANA_ORG_ID, "receiver": CONTACT_POINT,
                      "group_by": ["grafana_folder", "alertname"], "group_wait": "30s", "group_interval": "5m",
                      "repeat_interval": "4h"}],
    }
