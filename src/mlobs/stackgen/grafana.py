"""Grafana-managed alert rules (file provisioning, apiVersion 1) from the same definitions as the Prometheus rules.

Each rule queries Prometheus (A) with the alert's expression turned into 1 per firing series, reduces it to
the last value (B) and fires when B > 0 (C). No data means no firing series: state OK.
"""

from __future__ import annotations

import hashlib
import re

from mlobs.stackgen import GenerationError, config
from mlobs.stackgen.alerts_model import Alert, RecordingRule, RuleGroup
from mlobs.stackgen.prometheus import runbook_url
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
        alerts = [r for r in g.rules if isinstance(r, Alert)]
        if alerts:
            by_file.setdefault(g.file, []).append({
                "orgId": config.GRAFANA_ORG_ID, "name": g.name, "folder": config.GRAFANA_FOLDER,
                "interval": config.RULE_INTERVAL, "rules": [rule(a, records) for a in alerts],
            })
    return {
        f"stack/grafana/provisioning/alerting/{stem}.yml": dump(
            {"apiVersion": 1, "groups": gs}, source="src/mlobs/stackgen/alerts.py, slos.py (Grafana-managed rules)")
        for stem, gs in by_file.items()
    }
