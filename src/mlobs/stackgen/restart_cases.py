"""promtool cases of the on-call path's alerts while a component restarts mid-incident.

A restart must neither resolve a firing alert (a resolved page and a new one read as two incidents) nor
start its `for` again. What each restart looks like to the rules:
- the drift exporter: every series it exports ends with a stale marker, is absent while its windows
  refill, then comes back (its counters from zero);
- a model service: its series miss a scrape or two (a stale marker), then come back, counters from zero.
Prometheus and Alertmanager restarts keep rule and notification state elsewhere (docs/slos-and-alerts.md).
"""

from __future__ import annotations

from mlobs import catalog
from mlobs.drift import catalog as drift
from mlobs.stackgen import config
from mlobs.stackgen.promql import le, sel
from mlobs.stackgen.ruletest_spec import Case, Expect, Suite, ramp
from mlobs.stackgen.slos import PREDICT_LATENCY, SENTIMENT_CORRECT_FEEDBACK

SVC, MODEL, VERSION = catalog.SERVICE, catalog.MODEL, catalog.MODEL_VERSION
IDS = {SVC: "sentiment", MODEL: "sentiment", VERSION: "v1"}
# The exporter is gone for a minute and its windows refill for three more: four scrapes without its series.
EXPORTER_GAP = "stale _x3"
# A model service restarts between two scrapes: one stale marker, one scrape missed.
SERVICE_GAP = "stale _"


def _s(series: str, **labels: str) -> str:
    return sel(series, *(f'{k}="{v}"' for k, v in {**IDS, **labels}.items()))


def _restarted(before: str, after: str, gap: str = EXPORTER_GAP) -> str:
    return f"{before} {gap} {after}"


def _firing_throughout(alert: str, labels: dict[str, str], *at: str) -> tuple[Expect, ...]:
    return tuple(Expect(alert, t, (labels,)) for t in at)


def drift_cases() -> tuple[Case, ...]:
    """Each fires before the exporter restarts at 23m and is expected firing during the gap and after."""
    det = {"detector": "softmax_ks"}
    out = {"detector": "confidence_exceedance"}
    # 23 samples of drift in every window, then the restart, then 11 more: the counter starts again from 1.
    flags = _restarted("0 0 1x20", "1x10")
    counted = _restarted(ramp((1, 22)), "1+1x10")
    during = ("22m", "24m", "26m", "28m", "33m")
    estimate, baseline = _s(drift.ESTIMATED_ACCURACY.name), _s(drift.ESTIMATED_ACCURACY_BASELINE.name)
    missing = _s(drift.DRIFT_REFERENCE_MISSING.name)
    last = _s(drift.DRIFT_LAST_EVALUATION.name, **det)
    # (series, labels, before on the old instance, after on the new one): the new pod's series start afresh.
    rescheduled = ((drift.ESTIMATED_ACCURACY.name, {}, "0.85x22", "0.85x10"),
                   (drift.ESTIMATED_ACCURACY_BASELINE.name, {}, "0.97x22", "0.97x10"),
                   (drift.DRIFT_DETECTED.name, {**out, "feature": ""}, "0 0 1x20", "1x10"),
                   (drift.DRIFT_EVALUATIONS.total, out, ramp((1, 22)), "1+1x10"))
    return (
        Case("InputDriftDetected keeps firing while the drift exporter restarts and its windows refill",
             {_s(drift.DRIFT_DETECTED.name, **det, feature="text"): flags,
              _s(drift.DRIFT_EVALUATIONS.total, **det): counted},
             expects=_firing_throughout("InputDriftDetected", {**IDS, **det}, *during)),
        Case("EstimatedAccuracyDrop keeps paging while the drift exporter restarts and its windows refill",
             {estimate: _restarted("0.85x22", "0.85x10"), baseline: _restarted("0.97x22", "0.97x10"),
              _s(drift.DRIFT_DETECTED.name, **out, feature=""): flags,
              _s(drift.DRIFT_EVALUATIONS.total, **out): counted},
             expects=_firing_throughout("EstimatedAccuracyDrop", dict(IDS), *during)),
        Case("SegmentDriftDetected keeps firing while the drift exporter restarts and its windows refill",
             {_s(drift.SEGMENT_DRIFT_DETECTED.name, **det, segment="camera-7"): flags,
              _s(drift.SEGMENT_DRIFT_EVALUATIONS.total, **det, segment="camera-7"): counted},
             expects=_firing_throughout("SegmentDriftDetected", {**IDS, **det, "segment": "camera-7"}, *during)),
        Case("DriftReferenceMissing keeps firing, its 15 minutes not started again, while the exporter restarts",
             {missing: _restarted("1x22", "1x10")},
             expects=(Expect("DriftReferenceMissing", "14m"),
                      *_firing_throughout("DriftReferenceMissing", dict(IDS), "16m", "24m", "26m", "28m", "33m"))),
        Case("EstimatedAccuracyDrop keeps paging when the exporter is rescheduled and its series come back from "
             "another instance",
             {**{_s(name, **labels, instance="exporter-a"): f"{values} stale"
                 for name, labels, values, _ in rescheduled},
              **{_s(name, **labels, instance="exporter-b"): f"_x27 {values}"
                 for name, labels, _, values in rescheduled}},
             expects=_firing_throughout("EstimatedAccuracyDrop", dict(IDS), *during)),
        Case("DriftSamplesDropped keeps its ticket while the model service restarts, its counters from zero",
             {_s(drift.DRIFT_SAMPLES_DROPPED.total, reason=drift.REASON_QUEUE_FULL):
                 _restarted(ramp((50, 30)), ramp((50, 20)), SERVICE_GAP),
              _s(drift.DRIFT_SAMPLES_SHIPPED.total): _restarted(ramp((50, 30)), ramp((50, 20)), SERVICE_GAP)},
             expects=_firing_throughout("DriftSamplesDropped", dict(IDS), "29m", "31m", "32m", "34m", "40m")),
        Case("DriftEvaluationStale keeps its ticket while a restarted exporter has not evaluated again",
             {last: f"0x22 {EXPORTER_GAP} 1620"},  # the first window after the restart is tested at 27m
             expects=(*_firing_throughout("DriftEvaluationStale", {**IDS, **det}, "21m", "24m", "26m"),
                      Expect("DriftEvaluationStale", "28m"))),
    )


def _http(route: str, status: str, series: str | None = None, **extra: str) -> str:
    return _s(series or catalog.HTTP_REQUEST_DURATION.count, method="POST", route=route, status=status, **extra)


def slo_cases() -> tuple[Case, ...]:
    """Burn-rate alerts at 1-minute scrapes: 100 minutes of a 2% burn, then the service restarts (counters from
    zero). The page and the ticket fire before, and stay firing through the restart and after it."""
    route = config.PREDICT_ROUTE
    total = _http(route, "200")
    fast = _http(route, "200", catalog.HTTP_REQUEST_DURATION.bucket, le=le(PREDICT_LATENCY.threshold))
    ok, failed = total, _http(route, "500")
    before, after = 100, 20
    during = ("95m", "101m", "102m", "104m", "110m")
    who = {SVC: "sentiment"}
    return (
        Case("PredictLatencyErrorBudgetBurnFast and Slow keep firing while the service restarts, its counters from "
             "zero",
             {total: _restarted(ramp((100, before)), ramp((100, after)), SERVICE_GAP),
              fast: _restarted(ramp((98, before)), ramp((98, after)), SERVICE_GAP)},
             expects=tuple(Expect(f"PredictLatencyErrorBudgetBurn{speed}", t, (who,))
                           for t in during for speed in ("Fast", "Slow"))),
        Case("AvailabilityErrorBudgetBurnFast and Slow keep firing while the service restarts, its counters from zero",
             {ok: _restarted(ramp((98, before)), ramp((98, after)), SERVICE_GAP),
              failed: _restarted(ramp((2, before)), ramp((2, after)), SERVICE_GAP)},
             expects=tuple(Expect(f"AvailabilityErrorBudgetBurn{speed}", t, (who,))
                           for t in during for speed in ("Fast", "Slow"))),
    )


def model_cases() -> tuple[Case, ...]:
    """Online accuracy at 1-minute scrapes: a new version answers 60% right, then restarts at 100m."""
    fb = catalog.FEEDBACK.total
    right, wrong = _s(fb, outcome=catalog.OUTCOME_CORRECT), _s(fb, outcome=catalog.OUTCOME_INCORRECT)
    return (
        Case("OnlineAccuracyDrop keeps paging while the service restarts, its feedback counters from zero",
             {right: _restarted(ramp((3, 100)), ramp((3, 20)), SERVICE_GAP),
              wrong: _restarted(ramp((2, 100)), ramp((2, 20)), SERVICE_GAP)},
             expects=_firing_throughout("OnlineAccuracyDrop", dict(IDS), "95m", "101m", "102m", "104m", "110m")),
    )


def business_cases() -> tuple[Case, ...]:
    """The correct-feedback SLO at 1-minute scrapes: half the feedback says wrong, then the service restarts."""
    fb = catalog.FEEDBACK.total
    right, wrong = _s(fb, outcome=catalog.OUTCOME_CORRECT), _s(fb, outcome=catalog.OUTCOME_INCORRECT)
    name = f"{SENTIMENT_CORRECT_FEEDBACK.alert_prefix}ErrorBudgetBurnFast"
    return (
        Case(f"{name} keeps paging while the service restarts, its feedback counters from zero",
             {right: _restarted(ramp((5, 100)), ramp((5, 20)), SERVICE_GAP),
              wrong: _restarted(ramp((5, 100)), ramp((5, 20)), SERVICE_GAP)},
             expects=_firing_throughout(name, {SVC: "sentiment"}, "95m", "101m", "102m", "104m", "110m")),
    )


def suites() -> tuple[Suite, ...]:
    return (Suite("drift", drift_cases(), test_file="drift-restarts"),
            Suite("slo", slo_cases(), test_file="slo-restarts"),
            Suite("model", model_cases(), test_file="model-restarts"),
            Suite("business", business_cases(), test_file="business-restarts"))
