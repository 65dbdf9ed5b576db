"""Every PromQL query the stack ships (dashboard panels, variables, annotations; alert and recording rules),
ready to run against a live Prometheus."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from mlobs.stackgen import config, dashboards
from mlobs.stackgen.alert_spec import Alert
from mlobs.stackgen.alerts import rule_groups

# Grafana's built-in variables, as Grafana would fill them for a short range at a 1 s scrape interval.
BUILTINS = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h"}


@dataclass(frozen=True)
class Query:
    source: str  # "dashboard service-overview #3", "alert ServiceDown", "record slo:...{slo=...}"
    expr: str    # runnable PromQL
    needs_data: bool


def live_promql(expr: str) -> str:
    """Fill Grafana variables: built-ins by value, template variables (always in `=~"$x"`) by their All value."""
    for var, value in BUILTINS.items():
        expr = expr.replace(var, value)
    return re.sub(r"\$\{?\w+\}?", ".*", expr)


def dashboard_queries(root: Path = config.ROOT) -> list[Query]:
    out = []
    for path in sorted((root / "dashboards" / "generated").glob("*.json")):
        for i, expr in enumerate(dashboards.prometheus_queries(json.loads(path.read_text()))):
            out.append(Query(f"dashboard {path.stem} #{i}", live_promql(expr), needs_data=True))
    return out


def rule_queries() -> list[Query]:
    out = []
    for group in rule_groups():
        for r in group.rules:
            name = f"alert {r.name}" if isinstance(r, Alert) else f"record {r.record}{r.labels}"
            out.append(Query(name, r.expr, needs_data=False))
    return out
