"""Every metric mlobs emits: names, labels and buckets.

Code that makes metrics (mlobs.metrics) and code that queries them (dashboards,
alert and SLO rules) both read this module, so a rename breaks generation
instead of silently emptying a dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass

# Label names shared by every model metric: they join a metric to logs, spans and audit records.
SERVICE = "service"
MODEL = "model"
MODEL_VERSION = "model_version"
MODEL_LABELS = (SERVICE, MODEL, MODEL_VERSION)

# Seconds. Every latency SLO threshold must be one of these boundaries
# (mlobs.slo checks it); prometheus_client's defaults have no 0.2.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)
CONFIDENCE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)


@dataclass(frozen=True)
class Metric:
    name: str
    kind: str  # "counter" | "histogram" | "gauge"
    help: str
    labels: tuple[str, ...]
    buckets: tuple[float, ...] | None = None

    @property
    def total(self) -> str:
        """The series name of a counter, as PromQL sees it."""
        assert self.kind == "counter", self.name
        return f"{self.name}_total"

    @property
    def bucket(self) -> str:
        assert self.kind == "histogram", self.name
        return f"{self.name}_bucket"

    @property
    def count(self) -> str:
        assert self.kind == "histogram", self.name
        return f"{self.name}_count"

    @property
    def sum(self) -> str:
        assert self.kind == "histogram", self.name
        return f"{self.name}_sum"


# HTTP: the histogram's _count is the request count, so there is no separate counter.
HTTP_REQUEST_DURATION = Metric(
    "mlobs_http_request_duration_seconds",
    "histogram",
    "Duration of HTTP requests to a model service, by route and status.",
    MODEL_LABELS + ("method", "route", "status"),
    LATENCY_BUCKETS,
)
INFERENCE_DURATION = Metric(
    "mlobs_inference_duration_seconds",
    "histogram",
    "Duration of one model inference call (one request, single or batch).",
    MODEL_LABELS,
    LATENCY_BUCKETS,
)
# Cost: CPU seconds of the thread that ran the model, read around each call (time.thread_time),
# so a dearer model version shows beside its accuracy; with predictions it gives cost per prediction.
INFERENCE_CPU = Metric(
    "mlobs_inference_cpu_seconds",
    "counter",
    "CPU time spent in model inference calls (the calling thread's CPU around each call): cost by model version.",
    MODEL_LABELS,
)
# The same CPU by the client protection identified (bounded: mlobs.client_cost). A metric of its own, so
# the series by model version above keep their meaning and cardinality.
CLIENT = "client"
CLIENT_INFERENCE_CPU = Metric(
    "mlobs_client_inference_cpu_seconds",
    "counter",
    "CPU time spent in model inference calls by client (the first clients to be active get their own "
    "label, at most MLOBS_CLIENT_COST_TOP_N; the rest are \"_other\"): cost by client.",
    (*MODEL_LABELS, CLIENT),
)
PREDICTIONS = Metric(
    "mlobs_predictions",
    "counter",
    "Predictions served, by predicted class.",
    MODEL_LABELS + ("class",),
)
PREDICTION_CONFIDENCE = Metric(
    "mlobs_prediction_confidence",
    "histogram",
    "Probability of the predicted class.",
    MODEL_LABELS,
    CONFIDENCE_BUCKETS,
)
FEEDBACK = Metric(
    "mlobs_feedback",
    "counter",
    "Ground-truth feedback received, by whether the prediction was correct (online accuracy).",
    MODEL_LABELS + ("outcome",),
)
REJECTED_INPUTS = Metric(
    "mlobs_rejected_inputs",
    "counter",
    "Inputs refused with a 4xx, by reason.",
    MODEL_LABELS + ("reason",),
)
MODEL_INFO = Metric(
    "mlobs_model_info",
    "gauge",
    "Always 1: the model this process serves.",
    MODEL_LABELS + ("training_data_hash", "code_revision"),
)
TELEMETRY_DROPPED = Metric(
    "mlobs_telemetry_dropped",
    "counter",
    "Telemetry items dropped so that inference never waits (full queue, failed export).",
    (SERVICE, "signal"),
)
# The `signal` of predictions a shared feedback store (MLOBS_FEEDBACK__STORE_URL) could not take in time:
# feedback for them answers 404.
SIGNAL_FEEDBACK = "feedback"

AUDIT_RECORDS = Metric(
    "mlobs_audit_records",
    "counter",
    "Decisions made durable in the audit log before they were answered.",
    MODEL_LABELS,
)
AUDIT_UNAVAILABLE = Metric(
    "mlobs_audit_unavailable",
    "counter",
    "Decisions refused with a 503 because the audit log could not make them durable.",
    MODEL_LABELS,
)
AUDIT_APPEND_DURATION = Metric(
    "mlobs_audit_append_duration_seconds",
    "histogram",
    "Time a decision waited for its audit record to be durable (group commit).",
    MODEL_LABELS,
    LATENCY_BUCKETS,
)
AUDIT_INTEGRITY_FAILURES = Metric(
    "mlobs_audit_integrity_failures",
    "counter",
    "Decisions refused because the audit log contradicts the tree head its key last signed "
    "(rolled back, truncated or rewritten): nothing is signed or recorded until it is investigated.",
    MODEL_LABELS,
)
# What a volume holds: "log" (the audit log on SQLite), "keys" (subject keys), "signing" (the signing key and
# its last signed head, when apart from the subject keys), "mirror" (the checkpoint mirror), "witness"
STORE = "store"
AUDIT_VOLUME_FREE = Metric(
    "mlobs_audit_volume_free_bytes",
    "gauge",
    "Bytes this process may still write on the filesystem that holds an audit store (the log on SQLite, the "
    "subject keys, the signing key, the checkpoint mirror, a witness's cosigned checkpoints): when the log's, "
    "the keys' or the signing key's runs out, every decision is refused with a 503.",
    (SERVICE, STORE),
)
AUDIT_VOLUME_SIZE = Metric(
    "mlobs_audit_volume_size_bytes",
    "gauge",
    "Size of the filesystem that holds an audit store.",
    (SERVICE, STORE),
)
AUDIT_RAW_OLDEST_AGE = Metric(
    "mlobs_audit_raw_oldest_age_seconds",
    "gauge",
    "Age of the oldest raw request payload the audit log may still hold, as its purge thread saw it within the "
    "last minute (none held: the time since that look); it keeps growing when purges fail, are off or stall.",
    (SERVICE,),
)
AUDIT_RAW_RETENTION = Metric(
    "mlobs_audit_raw_retention_seconds",
    "gauge",
    "How long raw request payloads are kept before a purge deletes them (MLOBS_AUDIT__RAW_RETENTION_DAYS).",
    (SERVICE,),
)
AUDIT_CLOCK_STEP = Metric(
    "mlobs_audit_clock_step_seconds",
    "gauge",
    "Seconds the wall clock runs ahead of (negative: behind) the real time elapsed since the audit log's purge "
    "thread started: non-zero by more than a minute, the clock was stepped, and purges delete only what both "
    "call expired.",
    (SERVICE,),
)
AUDIT_METRICS = (AUDIT_RECORDS, AUDIT_UNAVAILABLE, AUDIT_APPEND_DURATION, AUDIT_INTEGRITY_FAILURES,
                 AUDIT_VOLUME_FREE, AUDIT_VOLUME_SIZE, AUDIT_RAW_OLDEST_AGE, AUDIT_RAW_RETENTION, AUDIT_CLOCK_STEP)

SERVICE_METRICS = (
    HTTP_REQUEST_DURATION,
    INFERENCE_DURATION,
    INFERENCE_CPU,
    CLIENT_INFERENCE_CPU,
    PREDICTIONS,
    PREDICTION_CONFIDENCE,
    FEEDBACK,
    REJECTED_INPUTS,
    MODEL_INFO,
    TELEMETRY_DROPPED,
)

# Values of fixed-vocabulary labels, for code on both sides.
OUTCOME_CORRECT = "correct"
OUTCOME_INCORRECT = "incorrect"
