"""Business KPIs held within a band of their own baseline, as code.

A KPI such as a credit approval rate has no fixed objective: what matters is that it does not move
far from what it usually is. A `Band` records the KPI's ratio over a short window and over a long
baseline, and raises a ticket when the two stay further apart than the band for long enough, with
enough traffic to judge.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlobs.catalog import Metric
from mlobs.stackgen import GenerationError
from mlobs.stackgen.alert_spec import Alert, RecordingRule
from mlobs.stackgen.promql import by, num, sel

RATIO = "kpi:ratio:rate{window}"
KPI_LABEL = "kpi"


@dataclass(frozen=True)
class Band:
    name: str                      # slug, the `kpi` label: "credit-approval-rate"
    alert: str                     # "CreditApprovalRateOutOfBand"
    metric: Metric                 # a counter of events
    selectors: tuple[str, ...]     # the events the KPI is about
    numerator: tuple[str, ...]     # matchers picking the events the ratio counts
    group_by: tuple[str, ...]
    band: float                    # the ratio may move this far (absolute) from its baseline
    min_rate: float                # events per second over `window` before the KPI is judged
    description: str
    runbook: str
    window: str = "1h"
    baseline: str = "7d"
    for_: str = "30m"

    def __post_init__(self):
        if self.metric.kind != "counter":
            raise GenerationError(f"KPI {self.name}: {self.metric.name} is a {self.metric.kind}, not a counter")
        if not 0 < self.band < 1:
            raise GenerationError(f"KPI {self.name}: band {self.band} must be between 0 and 1")

    def ratio_expr(self, window: str, *extra: str) -> str:
        """Events matching `numerator` / all events, over `window`, per group."""
        grouping = by(*self.group_by)
        total = f"sum {grouping} (rate({sel(self.metric.total, *self.selectors, *extra)}[{window}]))"
        part = f"sum {grouping} (rate({sel(self.metric.total, *self.selectors, *extra, *self.numerator)}[{window}]))"
        return f"({part} or 0 * {total}) / {total}"

    def ratio(self, window: str) -> str:
        return sel(RATIO.format(window=window), f'{KPI_LABEL}="{self.name}"')


def recording_rules(kpi: Band) -> list[RecordingRule]:
    labels = {KPI_LABEL: kpi.name}
    return [RecordingRule(RATIO.format(window=w), kpi.ratio_expr(w), labels) for w in (kpi.window, kpi.baseline)]


def band_alert(kpi: Band) -> Alert:
    grouping = by(*kpi.group_by)
    volume = f"sum {grouping} (rate({sel(kpi.metric.total, *kpi.selectors)}[{kpi.window}]))"
    return Alert(
        name=kpi.alert,
        expr=(f"abs({kpi.ratio(kpi.window)} - {kpi.ratio(kpi.baseline)}) > {num(kpi.band)}\n"
              f"and on ({', '.join(kpi.group_by)})\n  {volume} > {num(kpi.min_rate)}"),
        for_=kpi.for_,
        severity="ticket",
        summary=f"{{{{ $labels.service }}}}: {kpi.name} moved {num(kpi.band * 100)} points from its "
                f"{kpi.baseline} baseline",
        description=f"{kpi.description} Over {kpi.window} it has been more than {num(kpi.band * 100)} points "
                    f"away from its {kpi.baseline} average for {kpi.for_}. Start with `mlobs investigate`.",
        runbook=kpi.runbook,
        labels={KPI_LABEL: kpi.name},
    )
