"""SLOs as code: a small spec in, recording rules, burn-rate alerts and inhibition rules out.

Multi-window, multi-burn-rate alerts for a 30-day SLO (SRE workbook; the 1d/2h row is Sloth's):
both the long and the short window must burn faster than factor x (1 - objective).
"""

from __future__ import annotations

from dataclasses import dataclass

from mlobs.catalog import Metric
from mlobs.stackgen import GenerationError
from mlobs.stackgen.alert_spec import Alert, RecordingRule
from mlobs.stackgen.promql import by, le, num, sel


@dataclass(frozen=True)
class BurnRate:
    severity: str  # "page" | "ticket"
    factor: float
    long: str
    short: str


BURN_RATES = (
    BurnRate("page", 14.4, "1h", "5m"),
    BurnRate("page", 6.0, "6h", "30m"),
    BurnRate("ticket", 3.0, "1d", "2h"),
    BurnRate("ticket", 1.0, "3d", "6h"),
)
# Every window an alert reads, plus 30d for the error budget on the SLO dashboard.
WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d")
FOR = {"page": "2m", "ticket": "15m"}

ERROR_RATIO = "slo:sli_error:ratio_rate{window}"
OBJECTIVE = "slo:objective:ratio"
SLO_LABEL = "slo"


@dataclass(frozen=True)
class SLO:
    """One SLO over a histogram or a counter of events: bad events are slower than `threshold`
    (latency, histograms only) or match `bad` (errors, wrong answers)."""

    name: str                      # slug, the `slo` label: "predict-latency"
    alert_prefix: str              # CamelCase stem of its alerts: "PredictLatency"
    objective: float               # 0.999
    metric: Metric                 # a histogram (its _count counts events) or a counter
    group_by: tuple[str, ...]      # one SLI per value of these labels (e.g. per service)
    description: str               # one line, for alert descriptions and dashboards
    runbook: str                   # file name in alerts/runbooks/
    selectors: tuple[str, ...] = ()  # matchers selecting the events the SLO is about
    threshold: float | None = None   # seconds; a latency SLO when set
    bad: tuple[str, ...] = ()        # matchers selecting bad events (availability)
    burn_rates: tuple[BurnRate, ...] = BURN_RATES

    def __post_init__(self):
        if self.metric.kind not in ("histogram", "counter"):
            raise GenerationError(f"SLO {self.name}: {self.metric.name} is a {self.metric.kind}, "
                                  "not a histogram or a counter")
        if self.threshold is not None and self.metric.kind != "histogram":
            raise GenerationError(f"SLO {self.name}: a latency threshold needs a histogram")
        if not 0 < self.objective < 1:
            raise GenerationError(f"SLO {self.name}: objective {self.objective} must be between 0 and 1")
        if (self.threshold is None) == (not self.bad):
            raise GenerationError(f"SLO {self.name}: give exactly one of threshold (latency) or bad (errors)")
        if self.threshold is not None:
            check_bucket_boundary(self.name, self.threshold, self.metric.buckets or ())
        for r in self.burn_rates:
            if r.factor * self.budget >= 1:
                raise GenerationError(
                    f"SLO {self.name}: burning {r.factor:g}x a budget of {self.budget:g} needs an error ratio of "
                    f"{r.factor * self.budget:g}, so that alert could never fire; give the SLO burn_rates whose "
                    f"factors stay under {1 / self.budget:g}")

    @property
    def budget(self) -> float:
        return 1 - self.objective

    @property
    def events(self) -> str:
        """The series that counts every event."""
        return self.metric.count if self.metric.kind == "histogram" else self.metric.total

    def burn_summary(self) -> str:
        """"Page: 14.4x over 1h and 5m, or 6x over 6h and 30m. Ticket: ..." for descriptions and panels."""
        parts = []
        for severity in ("page", "ticket"):
            rows = [r for r in self.burn_rates if r.severity == severity]
            parts.append(f"{severity.capitalize()}: " + ", or ".join(
                f"{num(r.factor)}x over {r.long} and {r.short}" for r in rows) + ".")
        return " ".join(parts)

    def error_ratio_expr(self, window: str) -> str:
        """Bad events / all events over `window`, per group."""
        grouping = by(*self.group_by)
        total = f"sum {grouping} (rate({sel(self.events, *self.selectors)}[{window}]))"
        if self.threshold is not None:
            good_sel = sel(self.metric.bucket, *self.selectors, f'le="{le(self.threshold)}"')
            good = f"sum {grouping} (rate({good_sel}[{window}]))"
            return f"({total} - {good}) / {total}"
        bad = f"sum {grouping} (rate({sel(self.events, *self.selectors, *self.bad)}[{window}]))"
        # No bad series at all is a ratio of 0, not no data.
        return f"({bad} or 0 * {total}) / {total}"

    def ratio(self, window: str) -> str:
        return sel(ERROR_RATIO.format(window=window), f'{SLO_LABEL}="{self.name}"')


def check_bucket_boundary(name: str, threshold: float, buckets: tuple[float, ...]) -> None:
    """A latency SLO is computable only if its threshold is a bucket boundary of the histogram."""
    if threshold not in buckets:
        raise GenerationError(
            f"SLO {name}: latency threshold {threshold} s is not a bucket boundary of its histogram "
            f"(buckets: {', '.join(str(b) for b in buckets)}); add it to the buckets in the catalog"
        )


def recording_rules(slo: SLO) -> list[RecordingRule]:
    labels = {SLO_LABEL: slo.name}
    rules = [RecordingRule(ERROR_RATIO.format(window=w), slo.error_ratio_expr(w), labels) for w in WINDOWS]
    rules.append(RecordingRule(OBJECTIVE, f"vector({num(slo.objective)})", labels))
    return rules


def burn_alerts(slo: SLO) -> list[Alert]:
    alerts = []
    for severity, stem in (("page", "ErrorBudgetBurnFast"), ("ticket", "ErrorBudgetBurnSlow")):
        rows = [r for r in slo.burn_rates if r.severity == severity]
        clauses = [
            f"(\n  {slo.ratio(r.long)} > {num(r.factor * slo.budget)}\n"
            f"and\n  {slo.ratio(r.short)} > {num(r.factor * slo.budget)}\n)"
            for r in rows
        ]
        windows = " or ".join(f"{num(r.factor)}x over {r.long} and {r.short}" for r in rows)
        alerts.append(Alert(
            name=f"{slo.alert_prefix}{stem}",
            expr="\nor\n".join(clauses),
            for_=FOR[severity],
            severity=severity,
            summary=f"{{{{ $labels.service }}}} is burning the {slo.name} error budget "
                    f"({'fast' if severity == 'page' else 'slowly'})",
            description=f"{slo.description} Objective {num(slo.objective * 100)}% over 30 days; the error "
                        f"ratio exceeds the budget burn of {windows}. "
                        f"At this rate the 30-day budget is gone in under "
                        f"{round(30 / max(r.factor for r in rows))} days.",
            runbook=slo.runbook,
            labels={SLO_LABEL: slo.name},
        ))
    return alerts


def absent_alert(slo: SLO) -> Alert:
    return Alert(
        name=f"{slo.alert_prefix}SLIAbsent",
        expr=f"absent({sel(slo.events, *slo.selectors)})",
        for_="10m",
        severity="ticket",
        summary=f"The {slo.name} SLI has no data: the SLO is blind",
        description=f"No series of {slo.events} match the {slo.name} SLO's selector for 10 minutes, "
                    f"so its burn-rate alerts cannot fire. Either no service is scraped or the metric was renamed.",
        runbook=slo.runbook,
        labels={SLO_LABEL: slo.name},
    )


def inhibit_rules(slo: SLO) -> list[dict]:
    """Alertmanager: hold the slow-burn ticket while the fast-burn page for the same SLO and group fires."""
    return [{
        "source_matchers": [f'{SLO_LABEL}="{slo.name}"', 'severity="page"'],
        "target_matchers": [f'{SLO_LABEL}="{slo.name}"', 'severity="ticket"'],
        "equal": list(slo.group_by),
    }]


def alerts(slo: SLO) -> list[Alert]:
    return burn_alerts(slo) + [absent_alert(slo)]
