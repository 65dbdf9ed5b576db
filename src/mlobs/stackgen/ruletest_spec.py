"""promtool unit-test cases as data: input series, and the alerts expected (or not) at a time.

Annotations are rendered from the alert definitions (promtool compares them exactly), so a test case
states only what matters: which alert fires with which labels, and which stays silent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mlobs.stackgen import GenerationError
from mlobs.stackgen.alert_spec import Alert
from mlobs.stackgen.rule_files import runbook_url


def ramp(*segments: tuple[float, int], start: float = 0) -> str:
    """promtool values for a counter growing by `step` per interval for `n` intervals, segment after segment.

    ramp((100, 60), (98, 30)) is 61 samples rising by 100, then 30 more rising by 98.
    """
    parts, value, first = [], start, True
    for step, n in segments:
        if first:
            parts.append(f"{_n(value)}+{_n(step)}x{n}")
            value += step * n
            first = False
        else:
            value += step
            parts.append(f"{_n(value)}+{_n(step)}x{n - 1}")
            value += step * (n - 1)
    return " ".join(parts)


def _n(v: float) -> str:
    return f"{v:.10g}"


@dataclass(frozen=True)
class Expect:
    """At `at`, `alert` fires once per labels dict in `firing` (an empty tuple: it stays silent)."""

    alert: str
    at: str
    firing: tuple[dict[str, str], ...] = ()


@dataclass(frozen=True)
class Sample:
    """At `at`, `expr` returns exactly these (labels, value) samples."""

    expr: str
    at: str
    samples: tuple[tuple[dict[str, str], float], ...]


@dataclass(frozen=True)
class Case:
    name: str  # a sentence: "ServiceDown fires when a target fails scrapes for 2 minutes"
    series: dict[str, str]
    expects: tuple[Expect, ...] = ()
    samples: tuple[Sample, ...] = ()
    interval: str = "1m"


@dataclass(frozen=True)
class Suite:
    file: str  # rule file stem: tests go to alerts/tests/<file>.test.yml
    cases: tuple[Case, ...] = field(default_factory=tuple)
    # Coarse steps keep multi-day cases fast: promtool evaluates every rule at every step.
    evaluation_interval: str = "1m"
    # alerts/tests/<test_file>.test.yml when a file's rules need a second suite (another evaluation interval).
    test_file: str | None = None


_TEMPLATE = re.compile(r"{{\s*\$labels\.(\w+)\s*}}")


def render(text: str, labels: dict[str, str]) -> str:
    """Expand `{{ $labels.x }}` the way Prometheus does; anything fancier is refused."""
    out = _TEMPLATE.sub(lambda m: labels.get(m.group(1), ""), text)
    if "{{" in out:
        raise GenerationError(f"annotation template too rich for the test renderer: {text!r}")
    return out


def labels_text(labels: dict[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def to_promtool(case: Case, alerts: dict[str, Alert]) -> dict:
    out: dict = {"name": case.name, "interval": case.interval,
                 "input_series": [{"series": s, "values": v} for s, v in case.series.items()]}
    if case.expects:
        out["alert_rule_test"] = []
        for e in case.expects:
            if e.alert not in alerts:
                raise GenerationError(f"test case {case.name!r} expects unknown alert {e.alert}")
            a = alerts[e.alert]
            exp = []
            for labels in e.firing:
                full = {"severity": a.severity, **a.labels, **labels}
                exp.append({
                    "exp_labels": full,
                    "exp_annotations": {
                        "summary": render(a.summary, full),
                        "description": render(a.description, full),
                        "runbook_url": runbook_url(a),
                    },
                })
            out["alert_rule_test"].append({"eval_time": e.at, "alertname": e.alert, "exp_alerts": exp})
    if case.samples:
        out["promql_expr_test"] = [
            {"expr": s.expr, "eval_time": s.at,
             "exp_samples": [{"labels": labels_text(lab), "value": v} for lab, v in s.samples]}
            for s in case.samples
        ]
    return out
