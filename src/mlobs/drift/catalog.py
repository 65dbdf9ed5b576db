"""Drift metrics: emitted by the drift exporter (and the shipper's drop counter by model services),
queried by the drift alerts and dashboards."""

from __future__ import annotations

from mlobs.catalog import MODEL_LABELS, Metric

DETECTOR = "detector"
FEATURE = "feature"
REASON = "reason"
DETECTOR_LABELS = MODEL_LABELS + (DETECTOR,)
RESULT_LABELS = DETECTOR_LABELS + (FEATURE,)
SEGMENT = "segment"
METHOD = "method"
SEGMENT_LABELS = DETECTOR_LABELS + (SEGMENT,)

EVALUATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

DRIFT_P_VALUE = Metric(
    "mlobs_drift_p_value",
    "gauge",
    "p-value of the last drift test (the smallest over classes for softmax KS).",
    RESULT_LABELS,
)
DRIFT_STATISTIC = Metric(
    "mlobs_drift_statistic",
    "gauge",
    "Test statistic of the last drift test (KS distance, MMD^2, chi-square).",
    RESULT_LABELS,
)
DRIFT_THRESHOLD = Metric(
    "mlobs_drift_threshold",
    "gauge",
    "p-value threshold in use for the last drift test: calibrated for the deployed reference and window "
    "size when the model version has a calibration, else nominal after multiple-testing correction.",
    RESULT_LABELS,
)
DRIFT_CALIBRATION_TARGET = Metric(
    "mlobs_drift_calibration_target",
    "gauge",
    "False-positive rate the model version's drift thresholds were calibrated for at training, as read from "
    "its calibration file (each threshold's rate on held-out windows has a 95% upper bound at or below it), "
    "by calibration method.",
    MODEL_LABELS + (METHOD,),
)
DRIFT_DETECTED = Metric(
    "mlobs_drift_detected",
    "gauge",
    "1 if the last drift test found drift (p-value below threshold), else 0.",
    RESULT_LABELS,
)
DRIFT_WINDOW_SAMPLES = Metric(
    "mlobs_drift_window_samples",
    "gauge",
    "Samples in the window the last drift test used.",
    DETECTOR_LABELS,
)
DRIFT_LAST_EVALUATION = Metric(
    "mlobs_drift_last_evaluation_timestamp_seconds",
    "gauge",
    "Unix time of the last drift evaluation.",
    DETECTOR_LABELS,
)
DRIFT_EVALUATIONS = Metric(
    "mlobs_drift_evaluations",
    "counter",
    "Drift evaluations run.",
    DETECTOR_LABELS,
)
DRIFT_EVALUATION_ERRORS = Metric(
    "mlobs_drift_evaluation_errors",
    "counter",
    "Drift evaluations that failed (bad window data, detector error).",
    DETECTOR_LABELS,
)
DRIFT_EVALUATION_DURATION = Metric(
    "mlobs_drift_evaluation_duration_seconds",
    "histogram",
    "Time to evaluate one window with one detector.",
    DETECTOR_LABELS,
    EVALUATION_BUCKETS,
)
DRIFT_SAMPLES_RECEIVED = Metric(
    "mlobs_drift_samples_received",
    "counter",
    "Samples the drift exporter accepted.",
    MODEL_LABELS,
)
DRIFT_REFERENCE_MISSING = Metric(
    "mlobs_drift_reference_missing",
    "gauge",
    "1 while samples arrive for a model version with no usable reference (no drift tests run for it).",
    MODEL_LABELS,
)
# Emitted by model services (the shipper) and by the exporter (reason="no_reference").
DRIFT_SAMPLES_DROPPED = Metric(
    "mlobs_drift_samples_dropped",
    "counter",
    "Drift samples dropped, by reason: by a service so that inference never waits (queue_full, export_failed, "
    "closed); by the exporter, samples of a version without reference (no_reference) or that no model ships "
    "(invalid_sample).",
    MODEL_LABELS + (REASON,),
)
DRIFT_SAMPLES_SHIPPED = Metric(
    "mlobs_drift_samples_shipped",
    "counter",
    "Drift samples a model service delivered to the drift exporter.",
    MODEL_LABELS,
)

SEGMENT_DRIFT_DETECTED = Metric(
    "mlobs_segment_drift_detected",
    "gauge",
    "1 if the last drift test of one segment of traffic (top-N segments by volume, the rest \"_other\") "
    "found drift, else 0.",
    SEGMENT_LABELS,
)
SEGMENT_DRIFT_P_VALUE = Metric(
    "mlobs_segment_drift_p_value",
    "gauge",
    "Smallest p-value of the last drift test of one segment of traffic.",
    SEGMENT_LABELS,
)
SEGMENT_DRIFT_EVALUATIONS = Metric(
    "mlobs_segment_drift_evaluations",
    "counter",
    "Drift evaluations of one segment of traffic (run when a window holds enough of its samples).",
    SEGMENT_LABELS,
)
SEGMENT_METRICS = (SEGMENT_DRIFT_DETECTED, SEGMENT_DRIFT_P_VALUE, SEGMENT_DRIFT_EVALUATIONS)

ESTIMATED_ACCURACY = Metric(
    "mlobs_estimated_accuracy",
    "gauge",
    "Accuracy of the last window estimated without labels: mean calibrated top-class probability (CBPE).",
    MODEL_LABELS,
)
ESTIMATED_ACCURACY_LOWER = Metric(
    "mlobs_estimated_accuracy_lower",
    "gauge",
    "Lower end of the 95% interval of the last window's estimated accuracy.",
    MODEL_LABELS,
)
ESTIMATED_ACCURACY_UPPER = Metric(
    "mlobs_estimated_accuracy_upper",
    "gauge",
    "Upper end of the 95% interval of the last window's estimated accuracy.",
    MODEL_LABELS,
)
ESTIMATED_ACCURACY_BASELINE = Metric(
    "mlobs_estimated_accuracy_baseline",
    "gauge",
    "Accuracy of the model version on its held-out data at training: what the estimate is compared with.",
    MODEL_LABELS,
)
ESTIMATED_ACCURACY_METRICS = (ESTIMATED_ACCURACY, ESTIMATED_ACCURACY_LOWER, ESTIMATED_ACCURACY_UPPER,
                              ESTIMATED_ACCURACY_BASELINE)

CLASS = "class"
ESTIMATED_CLASS_SHARE = Metric(
    "mlobs_drift_estimated_class_share",
    "gauge",
    "Share of each true class in the last window, estimated without labels from the model's outputs and its "
    "held-out confusion matrix (black-box shift estimation); absent for a version whose reference has no labels.",
    MODEL_LABELS + (CLASS,),
)
REFERENCE_CLASS_SHARE = Metric(
    "mlobs_drift_reference_class_share",
    "gauge",
    "Share of each true class in the model version's held-out reference: what the estimated share is compared with.",
    MODEL_LABELS + (CLASS,),
)
PRIOR_SHIFT_EXPLAINS_INPUT = Metric(
    "mlobs_drift_prior_shift_explains_input",
    "gauge",
    "1 if the last window's input drift tests flagged and none flags against the reference reweighted to the "
    "estimated class shares (the input change is what a shift of the class mix alone gives), else 0.",
    MODEL_LABELS,
)
PRIOR_SHIFT_METRICS = (ESTIMATED_CLASS_SHARE, REFERENCE_CLASS_SHARE, PRIOR_SHIFT_EXPLAINS_INPUT)

DRIFT_STREAMS_RETIRED = Metric(
    "mlobs_drift_streams_retired",
    "counter",
    "(service, model, version) streams the exporter stopped tracking, with every series of theirs, because the "
    "service sent another version of the model since and this one had no batch for MLOBS_DRIFT__RETIRE_AFTER_SECONDS.",
    (),
)

# Values of the reason label.
REASON_QUEUE_FULL = "queue_full"
REASON_EXPORT_FAILED = "export_failed"
REASON_NO_REFERENCE = "no_reference"
REASON_CLOSED = "closed"
REASON_INVALID_SAMPLE = "invalid_sample"  # on the exporter: a sample no model service ships (see exporter.py)

# POST /ingest refusals on the exporter, by a reason of a fixed set: their names come from whoever
# posted, so none of them becomes a label.
INGEST_REFUSED = Metric(
    "mlobs_drift_ingest_refused",
    "counter",
    "Batches the drift exporter refused at POST /ingest (no valid ingest token, body too large, not a batch, "
    "a stream beyond the streams it tracks), by reason.",
    (REASON,),
)
REFUSED_UNAUTHORIZED = "unauthorized"
REFUSED_TOO_LARGE = "too_large"
REFUSED_BAD_BATCH = "bad_batch"
REFUSED_TOO_MANY_STREAMS = "too_many_streams"

EXPORTER_METRICS = (
    DRIFT_P_VALUE,
    DRIFT_STATISTIC,
    DRIFT_THRESHOLD,
    DRIFT_CALIBRATION_TARGET,
    DRIFT_DETECTED,
    DRIFT_WINDOW_SAMPLES,
    DRIFT_LAST_EVALUATION,
    DRIFT_EVALUATIONS,
    DRIFT_EVALUATION_ERRORS,
    DRIFT_EVALUATION_DURATION,
    DRIFT_SAMPLES_RECEIVED,
    DRIFT_REFERENCE_MISSING,
    DRIFT_SAMPLES_DROPPED,
    *ESTIMATED_ACCURACY_METRICS,
    *SEGMENT_METRICS,
    *PRIOR_SHIFT_METRICS,
    DRIFT_STREAMS_RETIRED,
)
SHIPPER_METRICS = (DRIFT_SAMPLES_DROPPED, DRIFT_SAMPLES_SHIPPED)
