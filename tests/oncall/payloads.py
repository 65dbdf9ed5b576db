"""Webhook bodies as Alertmanager writes them (notify/webhook/webhook.go: template.Data + version, groupKey,
truncatedAlerts)."""

from __future__ import annotations


def alert(name: str = "InputDriftDetected", status: str = "firing", severity: str | None = "page", **labels) -> dict:
    all_labels = {"alertname": name, **({"severity": severity} if severity else {}), **labels}
    return {
        "status": status,
        "labels": all_labels,
        "annotations": {"summary": f"{name} summary", "runbook_url": "https://example.invalid/rb.md"},
        "startsAt": "2026-12-04T23:00:00.123Z",
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-12-04T23:05:00Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
        "fingerprint": "a1b2c3d4e5f60718",
    }


def message(*alerts: dict, status: str = "firing", receiver: str = "oncall-page") -> dict:
    alerts = alerts or (alert(),)
    return {
        "receiver": receiver,
        "status": status,
        "alerts": list(alerts),
        "groupLabels": {"alertname": alerts[0]["labels"]["alertname"]},
        "commonLabels": alerts[0]["labels"],
        "commonAnnotations": alerts[0]["annotations"],
        "externalURL": "http://alertmanager:9093",
        "version": "4",
        "groupKey": '{}/{severity="page"}:{alertname="InputDriftDetected"}',
        "truncatedAlerts": 0,
    }
