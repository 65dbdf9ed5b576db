"""Prometheus rule files (also valid for Mimir and Thanos): alerts/<file>.rules.yml."""

from __future__ import annotations

from mlobs.stackgen import GenerationError, config
from mlobs.stackgen.alert_spec import Alert, RecordingRule, RuleGroup
from mlobs.stackgen.yamlout import dump


def runbook_url(alert: Alert) -> str:
    return f"{config.RUNBOOK_BASE_URL}/{alert.runbook}"


def rule(r: Alert | RecordingRule) -> dict:
    if isinstance(r, RecordingRule):
        out = {"record": r.record, "expr": r.expr}
        if r.labels:
            out["labels"] = dict(r.labels)
        return out
    return {
        "alert": r.name,
        "expr": r.expr,
        "for": r.for_,
        "labels": {"severity": r.severity, **r.labels},
        "annotations": {"summary": r.summary, "description": r.description, "runbook_url": runbook_url(r)},
    }


def group(g: RuleGroup) -> dict:
    out = {"name": g.name}
    if g.interval:
        out["interval"] = g.interval
    out["rules"] = [rule(r) for r in g.rules]
    return out


def rule_files(groups: list[RuleGroup]) -> dict[str, str]:
    """{path relative to the repo: text}, one file per distinct RuleGroup.file, groups in definition order."""
    names = [a.name for g in groups for a in g.rules if isinstance(a, Alert)]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise GenerationError(f"alert names must be unique: {', '.join(duplicates)}")
    files: dict[str, list[dict]] = {}
    for g in groups:
        files.setdefault(g.file, []).append(group(g))
    return {
        f"alerts/{stem}.rules.yml": dump({"groups": gs}, source="src/mlobs/stackgen/alerts.py, slos.py")
        for stem, gs in files.items()
    }
