"""The promtool unit tests of every alert and recording rule (written to alerts/tests/*.test.yml).

Each alert has a case where it fires and one where it stays silent; each recording rule is checked
for its value. Series and label names come from the catalogs, like the rules themselves.
"""

from __future__ import annotations

from dataclasses import replace

from mlobs import catalog
from mlobs.drift import catalog as drift
from mlobs.stackgen import audit_alerts, config, kpi, paging_alerts, restart_cases, security, slo
from mlobs.stackgen.promql import le, sel
from mlobs.stackgen.ruletest_spec import Case, Expect, Sample, Suite, ramp
from mlobs.stackgen.slos import (
    AVAILABILITY,
    CREDIT_APPROVAL_RATE,
    PREDICT_LATENCY,
    SENTIMENT_CORRECT_FEEDBACK,
    VISION_CORRECT_FEEDBACK,
)

HTTP = catalog.HTTP_REQUEST_DURATION
SVC, MODEL, VERSION = catalog.SERVICE, catalog.MODEL, catalog.MODEL_VERSION
IDS = {SVC: "sentiment", MODEL: "sentiment", VERSION: "v1"}
STEP = "5m"  # input interval of the multi-day cases
# 26 hours of 5-minute steps: every window up to 1d is full; 3d and 30d read what there is.
HORIZON, AT = 26 * 12, "26h"


def _s(series: str, **labels: str) -> str:
    return sel(series, *(f'{k}="{v}"' for k, v in {**IDS, **labels}.items()))


def _http(route: str, status: str, series: str | None = None, **extra: str) -> str:
    return _s(series or HTTP.count, method="POST", route=route, status=status, **extra)


def _bucket(route: str, status: str, threshold: float) -> str:
    return _http(route, status, HTTP.bucket, le=le(threshold))


def _ratios(s: slo.SLO, value: float, at: str, service: str = IDS[SVC]) -> tuple[Sample, ...]:
    out = tuple(Sample(f"round({s.ratio(w)}, 0.0001)", at, (({SVC: service, slo.SLO_LABEL: s.name}, value),))
                for w in slo.WINDOWS)
    return out + (Sample(f"round({slo.OBJECTIVE}{{{slo.SLO_LABEL}=\"{s.name}\"}}, 0.0001)", at,
                         (({slo.SLO_LABEL: s.name}, s.objective),)),)


def _burn(s: slo.SLO, at: str, fast: bool, slow: bool, service: str = IDS[SVC]) -> tuple[Expect, ...]:
    who = ({SVC: service},)
    return (
        Expect(f"{s.alert_prefix}ErrorBudgetBurnFast", at, who if fast else ()),
        Expect(f"{s.alert_prefix}ErrorBudgetBurnSlow", at, who if slow else ()),
        Expect(f"{s.alert_prefix}SLIAbsent", at, ()),
    )


def latency_cases() -> tuple[Case, ...]:
    t, route = PREDICT_LATENCY.threshold, config.PREDICT_ROUTE
    total, fast = _http(route, "200"), _bucket(route, "200", t)
    # Slow requests on another route must not count against the /predict latency SLO.
    other, other_fast = _http("/feedback", "200"), _bucket("/feedback", "200", t)
    p = PREDICT_LATENCY
    return (
        Case("2% of predictions slower than 200 ms for a day records a 2% error ratio over every window, "
             "pages and tickets",
             {total: ramp((100, HORIZON)), fast: ramp((98, HORIZON)),
              other: ramp((50, HORIZON)), other_fast: f"0x{HORIZON}"},
             expects=_burn(p, AT, fast=True, slow=True),
             samples=_ratios(p, 0.02, AT)),
        Case("a two-hour burst of 2% slow predictions after clean days pages but does not ticket",
             {total: ramp((100, HORIZON)), fast: ramp((100, HORIZON - 24), (98, 24))},
             expects=_burn(p, AT, fast=True, slow=False)),
        Case("0.5% slow predictions for a day tickets but does not page",
             {total: ramp((1000, HORIZON)), fast: ramp((995, HORIZON))},
             expects=_burn(p, AT, fast=False, slow=True)),
        Case("0.05% slow predictions stay within budget and alert nothing",
             {total: ramp((2000, HORIZON)), fast: ramp((1999, HORIZON))},
             expects=_burn(p, AT, fast=False, slow=False)),
        Case("PredictLatencySLIAbsent fires when no /predict request is recorded for 10 minutes",
             {other: ramp((50, 24)), other_fast: ramp((50, 24))},
             expects=(Expect("PredictLatencySLIAbsent", "2h", ({"route": route},)),)),
    )


def availability_cases() -> tuple[Case, ...]:
    ok, failed = _http(config.PREDICT_ROUTE, "200"), _http(config.PREDICT_ROUTE, "500")
    a = AVAILABILITY
    return (
        Case("2% of requests failing with a 5xx for a day records a 2% error ratio over every window, "
             "pages and tickets",
             {ok: ramp((98, HORIZON)), failed: ramp((2, HORIZON))},
             expects=_burn(a, AT, fast=True, slow=True),
             samples=_ratios(a, 0.02, AT)),
        Case("requests without any 5xx series record a zero error ratio and alert nothing",
             {ok: ramp((100, HORIZON))},
             expects=_burn(a, AT, fast=False, slow=False),
             samples=_ratios(a, 0.0, AT)),
        Case("0.5% of requests failing for a day tickets but does not page",
             {ok: ramp((995, HORIZON)), failed: ramp((5, HORIZON))},
             expects=_burn(a, AT, fast=False, slow=True)),
        Case("AvailabilitySLIAbsent fires when no request is recorded for 10 minutes",
             {'up{job="sentiment", instance="sentiment:8000"}': "1x24"},
             expects=(Expect("AvailabilitySLIAbsent", "2h", ({},)),)),
    )


def correct_feedback_cases() -> tuple[Case, ...]:
    fb = catalog.FEEDBACK.total
    out = []
    for spec, service, page, ticket, fine in ((SENTIMENT_CORRECT_FEEDBACK, "sentiment", 50, 20, 10),
                                              (VISION_CORRECT_FEEDBACK, "vision", 20, 8, 3)):
        ids = {SVC: service, MODEL: service}
        right, wrong = _s(fb, outcome="correct", **ids), _s(fb, outcome="incorrect", **ids)
        out += [
            Case(f"{page}% wrong answers in {service} feedback for a day pages and tickets",
                 {right: ramp((100 - page, HORIZON)), wrong: ramp((page, HORIZON))},
                 expects=_burn(spec, AT, fast=True, slow=True, service=service),
                 samples=_ratios(spec, page / 100, AT, service)),
            Case(f"{ticket}% wrong answers in {service} feedback for a day tickets but does not page",
                 {right: ramp((100 - ticket, HORIZON)), wrong: ramp((ticket, HORIZON))},
                 expects=_burn(spec, AT, fast=False, slow=True, service=service)),
            Case(f"{fine}% wrong answers in {service} feedback stay within budget and alert nothing",
                 {right: ramp((100 - fine, HORIZON)), wrong: ramp((fine, HORIZON))},
                 expects=_burn(spec, AT, fast=False, slow=False, service=service)),
            Case(f"{spec.alert_prefix}SLIAbsent fires when no {service} feedback arrives for 10 minutes",
                 {_http(config.PREDICT_ROUTE, "200"): ramp((100, 24))},
                 expects=(Expect(f"{spec.alert_prefix}SLIAbsent", "2h", ({SVC: service},)),)),
        ]
    return tuple(out)


def approval_rate_cases() -> tuple[Case, ...]:
    k = CREDIT_APPROVAL_RATE
    ids = {SVC: "credit", MODEL: "credit"}
    approve = _s(catalog.PREDICTIONS.total, **{"class": "approve"}, **ids)
    decline = _s(catalog.PREDICTIONS.total, **{"class": "decline"}, **ids)
    late = 48  # the last four hours of the horizon
    who = ({SVC: "credit"},)
    return (
        Case("the credit approval rate falling from 70% to 45% for four hours tickets",
             {approve: ramp((70, HORIZON - late), (45, late)), decline: ramp((30, HORIZON - late), (55, late))},
             expects=(Expect(k.alert, AT, who),),
             samples=(Sample(f"round({k.ratio(k.window)}, 0.0001)", AT, (({SVC: "credit", kpi.KPI_LABEL: k.name},
                                                                            0.45),)),
                      Sample(f"round({k.ratio(k.baseline)}, 0.01)", AT, (({SVC: "credit", kpi.KPI_LABEL: k.name},
                                                                           0.66),)))),
        Case("a steady credit approval rate stays within its band",
             {approve: ramp((70, HORIZON)), decline: ramp((30, HORIZON))},
             expects=(Expect(k.alert, AT),)),
        Case("the same fall at a handful of applications an hour is too little traffic to judge",
             {approve: ramp((0.7, HORIZON - late), (0.45, late)), decline: ramp((0.3, HORIZON - late), (0.55, late))},
             expects=(Expect(k.alert, AT),)),
    )


def service_cases() -> tuple[Case, ...]:
    up = {job: f'up{{job="{job}", instance="{job}:8000"}}' for job in config.SCRAPE_JOBS}
    rejected = _s(catalog.REJECTED_INPUTS.total, reason="empty")
    requests = _http(config.PREDICT_ROUTE, "200")
    dropped = sel(catalog.TELEMETRY_DROPPED.total, f'{SVC}="sentiment"', 'signal="spans"')
    job = config.SCRAPE_JOBS[0]
    return (
        Case("ServiceDown fires when a target has failed its scrapes for 2 minutes",
             {up[job]: "1 1 0 0 0 0 0"},
             expects=(Expect("ServiceDown", "6m", ({"job": job, "instance": f"{job}:8000"},)),)),
        Case("ServiceDown stays silent while every target is up",
             {s: "1x10" for s in up.values()},
             expects=(Expect("ServiceDown", "10m"), Expect("TargetMissing", "10m"))),
        Case("TargetMissing fires when a scrape job has no target for 5 minutes",
             {s: "1x10" for j, s in up.items() if j != "drift-exporter"},
             expects=(Expect("TargetMissing", "10m", ({"job": "drift-exporter"},)),)),
        Case("RejectedInputSurge fires when 30% of predictions are refused as bad input",
             {rejected: ramp((30, 30)), requests: ramp((100, 30))},
             expects=(Expect("RejectedInputSurge", "25m", ({SVC: "sentiment", MODEL: "sentiment"},)),)),
        Case("RejectedInputSurge stays silent at 1% bad input",
             {rejected: ramp((1, 30)), requests: ramp((100, 30))},
             expects=(Expect("RejectedInputSurge", "25m"),)),
        Case("TelemetryDropped fires when spans keep being dropped",
             {dropped: ramp((5, 30))},
             expects=(Expect("TelemetryDropped", "25m", ({SVC: "sentiment", "signal": "spans"},)),)),
        Case("TelemetryDropped stays silent when the drop counter does not move",
             {dropped: "7x30"},
             expects=(Expect("TelemetryDropped", "25m"),)),
    )


def model_cases() -> tuple[Case, ...]:
    fb = catalog.FEEDBACK.total
    correct = _s(fb, outcome=catalog.OUTCOME_CORRECT)
    incorrect = _s(fb, outcome=catalog.OUTCOME_INCORRECT)
    pos = _s(catalog.PREDICTIONS.total, **{"class": "positive"})
    neg = _s(catalog.PREDICTIONS.total, **{"class": "negative"})
    day, hours2 = 24 * 12, 24  # 5-minute steps
    version = dict(IDS)
    return (
        Case("OnlineAccuracyDrop fires when accuracy falls from 90% to 70% against the previous day",
             {correct: ramp((45, day), (35, hours2)), incorrect: ramp((5, day), (15, hours2))},
             expects=(Expect("OnlineAccuracyDrop", "26h", (version,)),)),
        Case("OnlineAccuracyDrop fires for a new version below the 70% floor with no history",
             {correct: ramp((30, hours2)), incorrect: ramp((20, hours2))},
             expects=(Expect("OnlineAccuracyDrop", "2h", (version,)),)),
        Case("OnlineAccuracyDrop stays silent while accuracy holds at 90%",
             {correct: ramp((45, day + hours2)), incorrect: ramp((5, day + hours2))},
             expects=(Expect("OnlineAccuracyDrop", "26h"),)),
        Case("OnlineAccuracyDrop stays silent on too little feedback, however wrong",
             {incorrect: ramp((0.5, hours2))},
             expects=(Expect("OnlineAccuracyDrop", "2h"),)),
        Case("PredictionClassShift fires when the class mix moves from 50/50 to 90/10",
             {pos: ramp((25, day), (45, hours2)), neg: ramp((25, day), (5, hours2))},
             expects=(Expect("PredictionClassShift", "26h", (
                 {SVC: "sentiment", MODEL: "sentiment", "class": "negative"},
                 {SVC: "sentiment", MODEL: "sentiment", "class": "positive"})),)),
        Case("PredictionClassShift stays silent while the class mix is steady",
             {pos: ramp((25, day + hours2)), neg: ramp((25, day + hours2))},
             expects=(Expect("PredictionClassShift", "26h"),)),
    )


def drift_cases() -> tuple[Case, ...]:
    det = {"detector": "softmax_ks"}
    detected = _s(drift.DRIFT_DETECTED.name, **det)
    evaluations = _s(drift.DRIFT_EVALUATIONS.total, **det)
    last = _s(drift.DRIFT_LAST_EVALUATION.name, **det)
    missing = _s(drift.DRIFT_REFERENCE_MISSING.name)
    dropped = _s(drift.DRIFT_SAMPLES_DROPPED.total, reason=drift.REASON_QUEUE_FULL)
    shipped = _s(drift.DRIFT_SAMPLES_SHIPPED.total)
    who = {**IDS, **det}
    out = {"detector": "confidence_exceedance"}
    out_detected = _s(drift.DRIFT_DETECTED.name, **out, feature="")
    out_evaluations = _s(drift.DRIFT_EVALUATIONS.total, **out)

    seg_detected = _s(drift.SEGMENT_DRIFT_DETECTED.name, **det, segment="camera-7")
    seg_evaluations = _s(drift.SEGMENT_DRIFT_EVALUATIONS.total, **det, segment="camera-7")

    def estimate(value) -> dict[str, str]:
        """Estimated accuracy (a value, or a promtool series), baseline 0.97."""
        return {_s(drift.ESTIMATED_ACCURACY.name): value if isinstance(value, str) else f"{value}x22",
                _s(drift.ESTIMATED_ACCURACY_BASELINE.name): "0.97x22"}

    return (
        Case("InputDriftDetected fires when every window for 10 minutes reports drift",
             {detected: "0 0 1x20", evaluations: ramp((1, 22))},
             expects=(Expect("InputDriftDetected", "15m", (who,)),)),
        Case("InputDriftDetected stays silent while no detector reports drift",
             {detected: "0x20", evaluations: ramp((1, 22))}, expects=(Expect("InputDriftDetected", "15m"),)),
        Case("InputDriftDetected stays silent when one window in ten minutes did not report drift",
             {detected: "1x8 0 1x12", evaluations: ramp((1, 22))}, expects=(Expect("InputDriftDetected", "15m"),)),
        Case("InputDriftDetected stays silent on a stale verdict no window has renewed",
             {detected: "1x20", evaluations: "5x22"}, expects=(Expect("InputDriftDetected", "15m"),)),
        Case("EstimatedAccuracyDrop pages when outputs drift and the estimate stays 12 points low",
             {**estimate(0.85), out_detected: "0 0 1x20", out_evaluations: ramp((1, 22))},
             expects=(Expect("EstimatedAccuracyDrop", "15m", (dict(IDS),)),)),
        Case("EstimatedAccuracyDrop stays silent when outputs drift but the estimate holds (a class-prior shift)",
             {**estimate(0.95), out_detected: "0 0 1x20", out_evaluations: ramp((1, 22))},
             expects=(Expect("EstimatedAccuracyDrop", "15m"),)),
        Case("EstimatedAccuracyDrop stays silent when the estimate falls but no output detector agrees",
             {**estimate(0.80), out_detected: "0x22", out_evaluations: ramp((1, 22))},
             expects=(Expect("EstimatedAccuracyDrop", "15m"),)),
        Case("EstimatedAccuracyDrop stays silent while one window in ten minutes estimates the usual accuracy",
             {**estimate("0.85x10 0.96 0.85x11"), out_detected: "0 0 1x20", out_evaluations: ramp((1, 22))},
             expects=(Expect("EstimatedAccuracyDrop", "15m"),)),
        Case("SegmentDriftDetected tickets when one client's windows drift for 10 minutes",
             {seg_detected: "0 0 1x20", seg_evaluations: ramp((1, 22))},
             expects=(Expect("SegmentDriftDetected", "15m", ({**who, "segment": "camera-7"},)),)),
        Case("SegmentDriftDetected stays silent on a stale segment verdict no window renewed",
             {seg_detected: "1x22", seg_evaluations: "3x22"},
             expects=(Expect("SegmentDriftDetected", "15m"),)),
        Case("DriftEvaluationStale fires when a detector has not evaluated for 15 minutes",
             {last: "0x60"}, expects=(Expect("DriftEvaluationStale", "30m", (who,)),)),
        Case("DriftEvaluationStale stays silent while a detector evaluates every minute",
             {last: ramp((60, 60))}, expects=(Expect("DriftEvaluationStale", "30m"),)),
        Case("DriftReferenceMissing fires when a version has no reference for 15 minutes",
             {missing: "1x30"}, expects=(Expect("DriftReferenceMissing", "20m", (dict(IDS),)),)),
        Case("DriftReferenceMissing stays silent when the reference is there",
             {missing: "0x30"}, expects=(Expect("DriftReferenceMissing", "20m"),)),
        Case("DriftSamplesDropped fires when half the drift samples are dropped",
             {dropped: ramp((50, 40)), shipped: ramp((50, 40))},
             expects=(Expect("DriftSamplesDropped", "35m", (dict(IDS),)),)),
        Case("DriftSamplesDropped stays silent at 1% dropped",
             {dropped: ramp((1, 40)), shipped: ramp((99, 40))},
             expects=(Expect("DriftSamplesDropped", "35m"),)),
    )


def _every(interval: str, cases: tuple[Case, ...]) -> tuple[Case, ...]:
    return tuple(replace(c, interval=interval) for c in cases)


def suites() -> tuple[Suite, ...]:
    return (
        Suite("slo", _every(STEP, latency_cases() + availability_cases()), evaluation_interval="1h"),
        Suite("business", _every(STEP, correct_feedback_cases() + approval_rate_cases()), evaluation_interval="5m"),
        Suite("service", service_cases()),
        Suite("model", _every(STEP, model_cases()), evaluation_interval="5m"),
        Suite("drift", drift_cases()),
        security.cases(),
        audit_alerts.cases(),
        paging_alerts.cases(),
        *restart_cases.suites(),
    )
