"""Drift: p-values and statistics per detector and feature against the threshold, drift state, the calibration
each version decides with, the class mix estimated without labels, window fill, with online accuracy beside it
(drift is not accuracy loss)."""

from mlobs import catalog as c
from mlobs.drift import catalog as d
from mlobs.stackgen.accuracy_panel import accuracy_targets
from mlobs.stackgen.dashboards import RATE, dashboard as make, grid, prom, q, row, table, timeseries

D = f"{c.MODEL}, {c.MODEL_VERSION}, {d.DETECTOR}, {d.FEATURE}"

dashboard = make("drift", "mlobs / Drift", tags=("drift",), panels=grid([
    [row("Tests")],
    [timeseries("p-value vs threshold per detector and feature",
                prom(f"max by ({D}) ({q(d.DRIFT_P_VALUE)})", "p {{model_version}} {{detector}} {{feature}}"),
                prom(f"max by ({D}) ({q(d.DRIFT_THRESHOLD)})", "threshold {{detector}} {{feature}}"),
                description="Drift when the p-value falls below the threshold in use: calibrated at training "
                            "for the deployed reference and window size (else nominal, Bonferroni-corrected)."),
     timeseries("Test statistic", prom(f"max by ({D}) ({q(d.DRIFT_STATISTIC)})",
                                       "{{model_version}} {{detector}} {{feature}}")),
     timeseries("Drift detected (1 = drift)", prom(f"max by ({D}) ({q(d.DRIFT_DETECTED)})",
                                                   "{{model_version}} {{detector}} {{feature}}"))],
    [timeseries("Drift by segment of traffic (1 = drift; top segments by volume, the rest _other)",
                prom(f"max by ({c.MODEL_VERSION}, {d.DETECTOR}, {d.SEGMENT}) ({q(d.SEGMENT_DRIFT_DETECTED)})",
                     "{{model_version}} {{detector}} {{segment}}"),
                description="Output detectors run on each segment's samples alone: one client or source drifting "
                            "shows here before the whole traffic does.")],
    [row("Calibration in use")],
    [timeseries("Calibrated false-positive target per version",
                prom(f"max by ({c.MODEL}, {c.MODEL_VERSION}, {d.METHOD}) ({q(d.DRIFT_CALIBRATION_TARGET)})",
                     "{{model}} {{model_version}} {{method}}"),
                unit="percentunit",
                description="The share of clean windows each detector of the version was calibrated to flag at "
                            "most, as its drift_calibration.json records it (each rule's rate on held-out windows "
                            "has a 95% upper bound at or below it). A version with no series here has no "
                            "calibration and decides at nominal thresholds: expect more false alarms from it."),
     table("Threshold in use per detector and feature",
           prom(f"max by ({D}) ({q(d.DRIFT_THRESHOLD)})", instant=True),
           description="The p-value threshold of each detector's last test: calibrated for the deployed reference "
                       "and the window's size, else nominal (Bonferroni-corrected). A threshold far below the "
                       "nominal one is a reference whose raw false-positive rate was high.")],
    [row("Class mix without labels")],
    [timeseries("Estimated share of each true class against the held-out reference",
                prom(f"max by ({c.MODEL}, {c.MODEL_VERSION}, {d.CLASS}) ({q(d.ESTIMATED_CLASS_SHARE)})",
                     "estimated {{model_version}} {{class}}"),
                prom(f"max by ({c.MODEL}, {c.MODEL_VERSION}, {d.CLASS}) ({q(d.REFERENCE_CLASS_SHARE)})",
                     "reference {{model_version}} {{class}}"),
                unit="percentunit",
                description="Each window's class mix, estimated from the model's outputs and its held-out "
                            "confusion matrix (black-box shift estimation), with no labels. A version trained "
                            "without held-out labels in its reference has no series here."),
     timeseries("Input drift explained by the class mix (1 = explained)",
                prom(f"max by ({c.MODEL}, {c.MODEL_VERSION}) ({q(d.PRIOR_SHIFT_EXPLAINS_INPUT)})",
                     "{{model}} {{model_version}}"),
                description="1: the input tests flagged, and none flags against the reference reweighted to the "
                            "estimated mix. More of one kind of case arrives, each looking as before (a prior "
                            "shift), rather than the inputs themselves changing.")],
    [row("Beside it: estimated and online accuracy")],
    [timeseries("Online accuracy from feedback (1h) and estimated accuracy per window",
                *accuracy_targets(),
                unit="percentunit",
                description="Input drift alone is a ticket; output drift with estimated accuracy below held-out "
                            "minus 5 points is the page EstimatedAccuracyDrop.")],
    [row("Pipeline health")],
    [timeseries("Samples in window", prom(f"max by ({c.MODEL}, {c.MODEL_VERSION}, {d.DETECTOR}) "
                                          f"({q(d.DRIFT_WINDOW_SAMPLES)})", "{{model_version}} {{detector}}")),
     timeseries("Seconds since last evaluation",
                prom(f"time() - max by ({c.MODEL}, {c.MODEL_VERSION}, {d.DETECTOR}) ({q(d.DRIFT_LAST_EVALUATION)})",
                     "{{model_version}} {{detector}}"), unit="s"),
     timeseries("Samples shipped and dropped",
                prom(f"sum by ({c.SERVICE}) (rate({q(d.DRIFT_SAMPLES_SHIPPED, series=d.DRIFT_SAMPLES_SHIPPED.total)}"
                     f"[{RATE}]))", "shipped {{service}}"),
                prom(f"sum by ({c.SERVICE}, {d.REASON}) (rate("
                     f"{q(d.DRIFT_SAMPLES_DROPPED, series=d.DRIFT_SAMPLES_DROPPED.total)}[{RATE}]))",
                     "dropped {{service}} {{reason}}"), unit="reqps"),
     timeseries("Evaluation time p99",
                prom(f"histogram_quantile(0.99, sum by (le, {d.DETECTOR}) (rate("
                     f"{q(d.DRIFT_EVALUATION_DURATION, series=d.DRIFT_EVALUATION_DURATION.bucket)}[{RATE}])))",
                     "{{detector}}"), unit="s")],
]))
