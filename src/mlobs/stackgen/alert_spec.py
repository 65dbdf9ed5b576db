"""The two kinds of rule every writer understands: one definition, two outputs."""

from __future__ import annotations

from dataclasses import dataclass, field

# "heartbeat": always firing, routed to a dead man's switch (the on-call receiver's /heartbeat), never to a person.
SEVERITIES = ("page", "ticket", "heartbeat")


@dataclass(frozen=True)
class Alert:
    name: str
    expr: str
    for_: str
    severity: str
    summary: str
    description: str
    runbook: str  # file name in alerts/runbooks/
    labels: dict[str, str] = field(default_factory=dict)
    # False: a Prometheus rule only. The heartbeat proves Prometheus's own path to Alertmanager; a Grafana copy
    # would keep beating while Prometheus is down.
    grafana: bool = True

    def __post_init__(self):
        if self.severity not in SEVERITIES:
            raise ValueError(f"alert {self.name}: severity {self.severity!r} is not one of {SEVERITIES}")
        if not self.runbook.endswith(".md"):
            raise ValueError(f"alert {self.name}: runbook {self.runbook!r} must be a .md file name")


@dataclass(frozen=True)
class RecordingRule:
    record: str
    expr: str
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RuleGroup:
    """One Prometheus rule group; `file` is the rule file stem (alerts/<file>.rules.yml)."""

    name: str
    file: str
    rules: tuple[Alert | RecordingRule, ...]
    interval: str | None = None
