from __future__ import annotations

import pytest

from mlobs.catalog import Metric
from mlobs.stackgen import GenerationError, slo
from mlobs.stackgen.promql import match
from mlobs.stackgen.slo import SLO

H = Metric("demo_seconds", "histogram", "demo", ("service", "route", "status"), (0.1, 0.5, 1.0))


def latency(threshold: float = 0.5, buckets=None) -> SLO:
    metric = H if buckets is None else Metric(H.name, H.kind, H.help, H.labels, buckets)
    return SLO(name="demo-latency", alert_prefix="DemoLatency", objective=0.99, metric=metric,
               group_by=("service",), description="99% under 500 ms.", runbook="demo.md",
               selectors=(match(metric, "route", "/x"),), threshold=threshold)


def test_a_latency_spec_records_the_slow_share_over_every_window():
    rules = slo.recording_rules(latency())
    assert [r.record for r in rules] == [f"slo:sli_error:ratio_rate{w}" for w in slo.WINDOWS] + ["slo:objective:ratio"]
    assert rules[0].labels == {"slo": "demo-latency"}
    assert rules[0].expr == (
        '(sum by (service) (rate(demo_seconds_count{route="/x"}[5m])) - '
        'sum by (service) (rate(demo_seconds_bucket{route="/x", le="0.5"}[5m]))) / '
        'sum by (service) (rate(demo_seconds_count{route="/x"}[5m]))'
    )
    assert rules[-1].expr == "vector(0.99)"


def test_an_error_spec_counts_no_error_series_as_a_zero_ratio():
    spec = SLO(name="demo-errors", alert_prefix="DemoErrors", objective=0.999, metric=H, group_by=("service",),
               description="d", runbook="demo.md", bad=(match(H, "status", "5..", "=~"),))
    assert spec.error_ratio_expr("1h") == (
        '(sum by (service) (rate(demo_seconds_count{status=~"5.."}[1h])) or '
        '0 * sum by (service) (rate(demo_seconds_count[1h]))) / sum by (service) (rate(demo_seconds_count[1h]))'
    )


def test_burn_alerts_need_both_windows_above_factor_times_budget():
    page, ticket = slo.burn_alerts(latency())
    assert (page.name, page.severity, ticket.name, ticket.severity) == (
        "DemoLatencyErrorBudgetBurnFast", "page", "DemoLatencyErrorBudgetBurnSlow", "ticket")
    # Budget 1%: 14.4x = 0.144, 6x = 0.06, 3x = 0.03, 1x = 0.01.
    assert page.expr == (
        '(\n  slo:sli_error:ratio_rate1h{slo="demo-latency"} > 0.144\nand\n'
        '  slo:sli_error:ratio_rate5m{slo="demo-latency"} > 0.144\n)\nor\n'
        '(\n  slo:sli_error:ratio_rate6h{slo="demo-latency"} > 0.06\nand\n'
        '  slo:sli_error:ratio_rate30m{slo="demo-latency"} > 0.06\n)'
    )
    assert "ratio_rate1d" in ticket.expr and "> 0.03" in ticket.expr
    assert "ratio_rate3d" in ticket.expr and "> 0.01" in ticket.expr
    assert page.labels == ticket.labels == {"slo": "demo-latency"}


def test_an_absent_sli_metric_has_its_own_alert():
    alert = slo.absent_alert(latency())
    assert alert.name == "DemoLatencySLIAbsent"
    assert alert.expr == 'absent(demo_seconds_count{route="/x"})'


def test_the_ticket_is_inhibited_while_the_page_of_the_same_slo_fires():
    (rule,) = slo.inhibit_rules(latency())
    assert rule == {"source_matchers": ['slo="demo-latency"', 'severity="page"'],
                    "target_matchers": ['slo="demo-latency"', 'severity="ticket"'], "equal": ["service"]}


def test_a_latency_threshold_that_is_not_a_bucket_boundary_fails_generation():
    with pytest.raises(GenerationError, match="0.3 s is not a bucket boundary"):
        latency(threshold=0.3, buckets=(0.1, 0.25, 0.5))
    assert latency(threshold=0.3, buckets=(0.1, 0.3, 0.5)).threshold == 0.3


def test_a_renamed_label_breaks_generation():
    with pytest.raises(GenerationError, match="has no label 'path'"):
        match(H, "path", "/x")
