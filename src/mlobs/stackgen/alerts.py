"""Every alert, defined once. rule_files.py and grafana.py write them out; runbooks are in alerts/runbooks/."""

from __future__ import annotations

from mlobs import catalog
from mlobs.drift import catalog as drift
from mlobs.stackgen import audit_alerts, config, kpi, paging_alerts, security, slo
from mlobs.stackgen.alert_spec import Alert, RuleGroup
from mlobs.stackgen.promql import by, label, match, num, ratio, sel
from mlobs.stackgen.slos import BUSINESS_SLOS, KPIS, SLOS

HTTP = catalog.HTTP_REQUEST_DURATION
FEEDBACK = catalog.FEEDBACK
PREDICTIONS = catalog.PREDICTIONS
REJECTED = catalog.REJECTED_INPUTS
DROPPED = catalog.TELEMETRY_DROPPED
SVC, MODEL, VERSION = catalog.SERVICE, catalog.MODEL, catalog.MODEL_VERSION
# A restarted drift exporter exports a version's series again only once a window has filled: its gauges read
# their last value this long, so a page or ticket neither resolves nor starts its `for` again meanwhile.
BRIDGE = "10m"
# DriftEvaluationStale's, shorter: a version retired within 900 s of its last evaluation is gone before its
# last timestamp would read as stale (retire_after_seconds, 600, is the least a stream waits to be retired).
STALE_BRIDGE = "5m"


def _jobs_matcher() -> str:
    return f'job=~"{"|".join(config.SCRAPE_JOBS)}"'


def service_alerts() -> list[Alert]:
    predict = match(HTTP, "route", config.PREDICT_ROUTE)
    model_by = by(SVC, MODEL)
    rejected_rate = f"sum {model_by} (rate({REJECTED.total}[10m]))"
    requests_rate = f"sum {model_by} (rate({sel(HTTP.count, predict)}[10m]))"
    signal = label(DROPPED, "signal")
    return [
        Alert(
            name="ServiceDown",
            expr=f"up{{{_jobs_matcher()}}} == 0",
            for_="2m",
            severity="page",
            summary="{{ $labels.job }} target {{ $labels.instance }} is down",
            description="Prometheus has failed to scrape {{ $labels.instance }} (job {{ $labels.job }}) for 2 minutes: "
                        "the process is dead, hung, or unreachable, and its predictions are failing or unobserved.",
            runbook="service-down.md",
        ),
        Alert(
            name="TargetMissing",
            expr="\nor\n".join(f'absent(up{{job="{job}"}})' for job in config.SCRAPE_JOBS),
            for_="5m",
            severity="page",
            summary="No {{ $labels.job }} target is known to Prometheus",
            description="Prometheus has no scrape target for job {{ $labels.job }} at all: service discovery or the "
                        "scrape config lost it, so every alert about it is silent.",
            runbook="target-missing.md",
        ),
        Alert(
            name="RejectedInputSurge",
            expr=f"(\n  {rejected_rate}\n/\n  {requests_rate}\n) > {num(config.REJECTED_RATIO)}\n"
                 f"and\n{rejected_rate} > {num(config.MIN_REJECTED_RATE)}",
            for_="10m",
            severity="ticket",
            summary="{{ $labels.service }} rejects over "
                    f"{num(config.REJECTED_RATIO * 100)}% of its {config.PREDICT_ROUTE} requests",
            description="Inputs refused with a 4xx (mlobs_rejected_inputs_total) exceed "
                        f"{num(config.REJECTED_RATIO * 100)}% of {config.PREDICT_ROUTE} requests over 10 minutes: "
                        "a client release sending a new format, an abusive client, or a validation bug.",
            runbook="rejected-input-surge.md",
        ),
        Alert(
            name="TelemetryDropped",
            expr=f"sum {by(SVC, signal)} (increase({DROPPED.total}[10m])) > 0",
            for_="10m",
            severity="ticket",
            summary="{{ $labels.service }} is dropping {{ $labels.signal }} telemetry",
            description="Telemetry queues are full or exports fail, so spans, log lines or (signal feedback) "
                        "predictions held for feedback are dropped (by design, inference never waits). Traces and "
                        "logs for this service are incomplete; labels for a dropped prediction answer 404.",
            runbook="telemetry-dropped.md",
        ),
    ]


def model_alerts() -> list[Alert]:
    version_by = by(SVC, MODEL, VERSION)
    correct = sel(FEEDBACK.total, match(FEEDBACK, "outcome", catalog.OUTCOME_CORRECT))

    def accuracy(window: str, offset: str = "") -> str:
        off = f" offset {offset}" if offset else ""
        return ratio(f"sum {version_by} (rate({correct}[{window}]{off}))",
                      f"sum {version_by} (rate({FEEDBACK.total}[{window}]{off}))")

    cls = label(PREDICTIONS, "class")

    def share(window: str, offset: str = "") -> str:
        off = f" offset {offset}" if offset else ""
        return (f"sum {by(SVC, MODEL, cls)} (increase({PREDICTIONS.total}[{window}]{off}))\n"
                f"  / ignoring ({cls}) group_left\n"
                f"  sum {by(SVC, MODEL)} (increase({PREDICTIONS.total}[{window}]{off}))")

    return [
        Alert(
            name="OnlineAccuracyDrop",
            expr=f"(\n  {accuracy('1h')}\n  < {accuracy('1d', '1h')} - {num(config.ACCURACY_DROP)}\n"
                 f"or\n  {accuracy('1h')}\n  < {num(config.ACCURACY_FLOOR)}\n)\n"
                 f"and on ({SVC}, {MODEL}, {VERSION})\n"
                 f"sum {version_by} (increase({FEEDBACK.total}[1h])) >= {config.MIN_FEEDBACK_1H}",
            for_="15m",
            severity="page",
            summary="Online accuracy of {{ $labels.model }} {{ $labels.model_version }} dropped",
            description=f"Accuracy from ground-truth feedback over the last hour is more than "
                        f"{num(config.ACCURACY_DROP * 100)} points below the same version's previous day, or under "
                        f"{num(config.ACCURACY_FLOOR * 100)}%, on at least {config.MIN_FEEDBACK_1H} feedback events.",
            runbook="online-accuracy-drop.md",
        ),
        Alert(
            name="PredictionClassShift",
            expr=f"abs(\n  {share('1h')}\n-\n  {share('1d', '1h')}\n) > {num(config.CLASS_SHARE_SHIFT)}\n"
                 f"and on ({SVC}, {MODEL})\n"
                 f"sum {by(SVC, MODEL)} (increase({PREDICTIONS.total}[1h])) >= {config.MIN_PREDICTIONS_1H}",
            for_="15m",
            severity="ticket",
            summary="Class {{ $labels.class }} share of {{ $labels.model }} predictions moved",
            description=f"The share of predictions of class {{{{ $labels.class }}}} over the last hour differs by more "
                        f"than {num(config.CLASS_SHARE_SHIFT * 100)} points from the previous day's: the inputs, the "
                        f"traffic mix or the model changed.",
            runbook="prediction-class-shift.md",
        ),
    ]


def drift_alerts(window: str = "10m", min_windows: int = 3, for_: str = "1m") -> list[Alert]:
    """InputDriftDetected needs every evaluation over `window` to say drift, and at least `min_windows`
    of them: a gauge holds its last value between windows, so `for:` alone would let one false
    positive page whenever windows fill slower than `for:` lasts. (The on-call test shortens all three.)"""
    detector_by = by(*drift.DETECTOR_LABELS)
    version_by = by(SVC, MODEL, VERSION)
    shipped, dropped = drift.DRIFT_SAMPLES_SHIPPED.total, drift.DRIFT_SAMPLES_DROPPED.total
    evaluations = drift.DRIFT_EVALUATIONS.total
    return [
        Alert(
            name="InputDriftDetected",
            expr=f"(max {detector_by} (min_over_time({drift.DRIFT_DETECTED.name}[{window}])) == 1) "
                 f"and on {tuple_labels(drift.DETECTOR_LABELS)} "
                 f"(sum {detector_by} (increase({evaluations}[{window}])) >= {min_windows})",
            for_=for_,
            severity="ticket",
            summary="{{ $labels.detector }} detects drift on {{ $labels.model }} {{ $labels.model_version }}",
            description=f"Every evaluation of the drift exporter's {{{{ $labels.detector }}}} test over {window} "
                        f"(at least {min_windows} windows) rejected 'same distribution as the training reference'. "
                        "The input changed; that alone is a ticket. It pages as EstimatedAccuracyDrop when the "
                        "model's outputs drift and its estimated accuracy falls.",
            runbook="input-drift.md",
        ),
        estimated_accuracy_drop(window, min_windows, for_),
        segment_drift_alert(window, min_windows, for_),
        Alert(
            name="DriftEvaluationStale",
            expr=f"time() - max {detector_by} (last_over_time({drift.DRIFT_LAST_EVALUATION.name}[{STALE_BRIDGE}])) "
                 f"> {config.DRIFT_STALE_SECONDS}",
            for_="5m",
            severity="ticket",
            summary="{{ $labels.detector }} has not evaluated {{ $labels.model }} {{ $labels.model_version }} lately",
            description=f"No drift evaluation for over {config.DRIFT_STALE_SECONDS} s: windows are not filling "
                        "(no samples shipped) or the evaluator is failing, so drift would go unseen.",
            runbook="drift-pipeline.md",
        ),
        Alert(
            name="DriftReferenceMissing",
            expr=f"max {version_by} (last_over_time({drift.DRIFT_REFERENCE_MISSING.name}[{BRIDGE}])) == 1",
            for_="15m",
            severity="ticket",
            summary="No drift reference for {{ $labels.model }} {{ $labels.model_version }}",
            description="Samples arrive for a model version whose training artifacts hold no usable reference, "
                        "so no drift test runs for it.",
            runbook="drift-pipeline.md",
        ),
        Alert(
            name="DriftSamplesDropped",
            expr=f"sum {version_by} (rate({dropped}[15m]))\n/\n"
                 f"(sum {version_by} (rate({dropped}[15m])) + (sum {version_by} (rate({shipped}[15m])) or "
                 f"0 * sum {version_by} (rate({dropped}[15m]))))\n> 0.1",
            for_="15m",
            severity="ticket",
            summary="{{ $labels.service }} drops over 10% of its drift samples",
            description="The drift shipper drops samples (queue full, export failed, no reference): drift windows "
                        "fill slowly or not at all and may not represent the traffic.",
            runbook="drift-pipeline.md",
        ),
    ]


def estimated_accuracy_drop(window: str = "10m", min_windows: int = 3, for_: str = "1m") -> Alert:
    """The page: the model's outputs drift (every window over `window`) and the estimated accuracy
    stays below the held-out accuracy minus the drop in every window."""
    version = (SVC, MODEL, VERSION)
    version_by = by(*version)
    output = f'{drift.DETECTOR}=~"{"|".join(config.OUTPUT_DETECTORS)}"'
    detected = sel(drift.DRIFT_DETECTED.name, output)
    evaluations = sel(drift.DRIFT_EVALUATIONS.total, output)
    estimate, baseline = drift.ESTIMATED_ACCURACY.name, drift.ESTIMATED_ACCURACY_BASELINE.name
    return Alert(
        name="EstimatedAccuracyDrop",
        expr=f"(\n  max {version_by} (max_over_time({estimate}[{window}]))\n"
             f"  < max {version_by} (last_over_time({baseline}[{BRIDGE}])) - {num(config.ESTIMATED_ACCURACY_DROP)}\n)\n"
             f"and on {tuple_labels(version)}\n"
             f"(max {by(*drift.DETECTOR_LABELS)} (min_over_time({detected}[{window}])) == 1)\n"
             f"and on {tuple_labels(version)}\n"
             f"(max {version_by} (sum {by(*drift.DETECTOR_LABELS)} (increase({evaluations}[{window}]))) "
             f">= {min_windows})",
        for_=for_,
        severity="page",
        summary="{{ $labels.model }} {{ $labels.model_version }} is likely less accurate (estimated without labels)",
        description=f"The model's outputs drift in every window over {window} and the estimated accuracy (mean "
                    "calibrated confidence, CBPE) stays more than "
                    f"{num(config.ESTIMATED_ACCURACY_DROP * 100)} points below its held-out accuracy in every "
                    "window. Labels may take days; this is the early page. The estimate errs high under strong "
                    "shifts, so the real drop is often larger.",
        runbook="estimated-accuracy-drop.md",
    )


def segment_drift_alert(window: str = "10m", min_windows: int = 3, for_: str = "1m") -> Alert:
    """A ticket: one segment of traffic (a client, a source) drifts in every one of its windows."""
    segment_by = by(*drift.SEGMENT_LABELS)
    return Alert(
        name="SegmentDriftDetected",
        expr=f"(max {segment_by} (min_over_time({drift.SEGMENT_DRIFT_DETECTED.name}[{window}])) == 1) "
             f"and on {tuple_labels(drift.SEGMENT_LABELS)} "
             f"(sum {segment_by} (increase({drift.SEGMENT_DRIFT_EVALUATIONS.total}[{window}])) >= {min_windows})",
        for_=for_,
        severity="ticket",
        summary="Segment {{ $labels.segment }} of {{ $labels.model }} traffic drifts ({{ $labels.detector }})",
        description=f"Every evaluation of segment {{{{ $labels.segment }}}} over {window} (at least {min_windows}) "
                    "found drift: one client or source sends inputs unlike the reference, even if the whole "
                    "traffic does not show it.",
        runbook="input-drift.md",
    )


def slo_groups() -> list[RuleGroup]:
    # Records before the alerts that read them, in one group: rules in a group run in order.
    # Business SLOs and KPIs have a file of their own: their promtool cases run at another interval.
    return ([RuleGroup(f"slo-{s.name}", "business" if s in BUSINESS_SLOS else "slo",
                       tuple(slo.recording_rules(s) + slo.alerts(s))) for s in SLOS]
            + [RuleGroup(f"kpi-{k.name}", "business", tuple(kpi.recording_rules(k) + [kpi.band_alert(k)]))
               for k in KPIS])


def tuple_labels(labels) -> str:
    return "(" + ", ".join(labels) + ")"


def rule_groups() -> list[RuleGroup]:
    return slo_groups() + [
        RuleGroup("service", "service", tuple(service_alerts())),
        RuleGroup("model-quality", "model", tuple(model_alerts())),
        RuleGroup("drift", "drift", tuple(drift_alerts())),
        security.group(),
        audit_alerts.group(),
        paging_alerts.group(),
    ]


def inhibit_rules() -> list[dict]:
    rules = [r for s in SLOS for r in slo.inhibit_rules(s)]
    # "The model is likely worse" explains "the input changed" for the same version.
    rules.append({
        "source_matchers": ['alertname=~"EstimatedAccuracyDrop|OnlineAccuracyDrop"'],
        "target_matchers": ['alertname="InputDriftDetected"'],
        "equal": [SVC, MODEL, VERSION],
    })
    # A dead target explains everything else about it: hold its tickets while the page fires.
    rules.append({
        "source_matchers": ['alertname=~"ServiceDown|TargetMissing"'],
        "target_matchers": ['severity="ticket"'],
        "equal": ["job"],
    })
    return rules
