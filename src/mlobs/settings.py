"""One settings object per process, read from MLOBS_* and the standard OTEL_* variables."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, BaseModel, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from mlobs.audit.settings import AuditSettings
from mlobs.audit.witness.settings import WitnessSettings
from mlobs.deadline import SHUTDOWN_S
from mlobs.drift.settings import DriftSettings
from mlobs.faults.settings import FaultSettings
from mlobs.oncall.settings import OncallSettings
from mlobs.protect.settings import ProtectSettings


def _default_artifacts_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "mlobs" / "artifacts"


class FeedbackSettings(BaseModel):
    """Where predictions wait for their ground truth (MLOBS_FEEDBACK__*)."""

    # Unset: in this process's memory (MLOBS_FEEDBACK_MEMORY_BYTES), forgotten at restart and not seen by
    # other replicas. sqlite:////path/feedback.db or postgresql://user@host/db: one table every replica
    # shares, so a label days later reaches the prediction whichever replica made it.
    store_url: str | None = None
    # Predictions (one row each) the store keeps, the oldest deleted first. A row takes about 250 bytes on
    # PostgreSQL with its indexes and 150 on SQLite: 10,000,000 is about 2.5 GB.
    max_rows: int = Field(10_000_000, gt=0)
    # Days a prediction waits for its label before it is deleted.
    max_age_days: float = Field(90.0, gt=0)
    # Requests' predictions waiting for the writer thread; past it they are dropped and counted in
    # mlobs_telemetry_dropped_total{signal="feedback"}, so a slow store never slows a prediction.
    queue_size: int = Field(10_000, gt=0)
    # Requests written in one insert.
    batch: int = Field(500, gt=0)
    # Seconds a feedback waits for the store before it answers 503 (and the store's connect, statement
    # and TCP timeouts).
    timeout_s: float = Field(2.0, gt=0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MLOBS_", env_nested_delimiter="__", extra="ignore", populate_by_name=True
    )

    # deployment.environment.name of spans (the SDK's OTEL_RESOURCE_ATTRIBUTES wins).
    environment: str = "dev"
    # Where models are trained to and loaded from (default ~/.cache/mlobs/artifacts).
    artifacts_dir: Path = Field(default_factory=_default_artifacts_dir)

    # false: no telemetry at all (the benchmarks' bare baseline).
    telemetry_enabled: bool = True
    # Garbage-collector tuning for apps that opt in with mlobs.heap.tune_gc (the reference services
    # do; they freeze); unset, the app's own default applies. true: once the app has started, move
    # its startup heap (libraries, model) out of the collector's reach, so full collections on the
    # request path stop walking it.
    gc_freeze: bool | None = None
    # Collect the young generation after this many net new objects instead of Python's 700 (the
    # reference services use 10,000: each request's objects stay alive across its awaits, which
    # made collections five times as frequent); unset, the app's own default applies.
    gc_young_threshold: int | None = Field(None, gt=0)
    # One JSON access log line per request, written by mlobs (the server's own is silenced).
    access_log: bool = True
    log_level: str = "INFO"  # lowest level the JSON log writer keeps (a logging level name: DEBUG, INFO, ...)
    log_queue_size: int = Field(10_000, gt=0)  # lines the log writer holds before it drops (and counts) the rest
    log_queue_bytes: int = Field(64 * 1024 * 1024, gt=0)  # and bytes: past either bound, lines are dropped

    max_body_bytes: int = Field(1_000_000, gt=0)  # bytes of a request body
    max_text_chars: int = Field(5_000, gt=0)  # characters of one text
    max_batch: int = Field(64, gt=0)  # items of one batch
    max_image_bytes: int = Field(2_000_000, gt=0)  # bytes of one image
    max_image_pixels: int = Field(1_000_000, gt=0)  # pixels of one image, read from its header before decoding
    # Predictions held for feedback, at most this many.
    feedback_memory: int = Field(100_000, gt=0)
    # Bytes the predictions held for feedback may take; the oldest are forgotten first.
    feedback_memory_bytes: int = Field(32_000_000, gt=0)
    feedback: FeedbackSettings = Field(default_factory=FeedbackSettings)
    # None: inference runs inline. A number: on a worker with this deadline (504 past it).
    inference_timeout_s: float | None = Field(None, gt=0)

    # The caller's traceparent becomes the parent of the server span only when true; otherwise it is
    # recorded as a span link, so a client can neither join nor force sampling of this service's traces.
    trust_incoming_trace: bool = False
    # A child span per inference call; false: its timing as attributes of the request's span (cheaper).
    inference_span: bool = True
    # Seconds the telemetry may take to stop, in all: spans, metrics and log lines a collector has not
    # taken by then are dropped (counted), so a collector that never answers cannot hold the shutdown
    # past an orchestrator's grace period (Kubernetes: 30 s, then SIGKILL). stdout gets 2 s of its own.
    telemetry_shutdown_s: float = Field(SHUTDOWN_S, gt=0)
    # Clients that get their own `client` label on mlobs_client_inference_cpu_seconds_total; the rest are "_other".
    client_cost_top_n: int = Field(10, ge=0)

    # Standard OpenTelemetry variables; the SDK reads the rest (sampler, headers, resource).
    service_name: str | None = Field(None, validation_alias=AliasChoices("OTEL_SERVICE_NAME", "MLOBS_SERVICE_NAME"))
    # service.version of the resource; unset, the model version.
    service_version: str | None = None
    # Comma-separated, as the SDK reads them: "otlp" sends that signal by OTLP/HTTP. Prometheus
    # /metrics and JSON logs on stdout stay on either way.
    metrics_exporter: str = Field("prometheus", validation_alias=AliasChoices("OTEL_METRICS_EXPORTER",
                                                                              "MLOBS_METRICS_EXPORTER"))
    # "otlp": every JSON log line is also sent as an OTLP/HTTP log record (batched off the request
    # path, drops counted); "none", the default, keeps logs on stdout for the platform's collector.
    logs_exporter: str = Field("none", validation_alias=AliasChoices("OTEL_LOGS_EXPORTER", "MLOBS_LOGS_EXPORTER"))
    # Where spans go by OTLP/HTTP (e.g. http://collector:4318); unset, no span leaves the process.
    otlp_endpoint: str | None = Field(
        None,
        validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"),
    )

    audit: AuditSettings = Field(default_factory=AuditSettings)
    audit_witness: WitnessSettings = Field(default_factory=WitnessSettings)
    drift: DriftSettings = Field(default_factory=DriftSettings)
    protect: ProtectSettings = Field(default_factory=ProtectSettings)
    oncall: OncallSettings = Field(default_factory=OncallSettings)
    # Injected /predict faults for scenario runs (MLOBS_FAULT__*); off by default.
    fault: FaultSettings = Field(default_factory=FaultSettings)


@lru_cache(maxsize=1)
def settings_problems(exc: ValidationError) -> str:
    """What is wrong with the environment's settings, one line per variable, without the values
    (a malformed secret must not reach a terminal or a log)."""
    lines = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        if loc and loc[0] not in Settings.model_fields:
            name = loc[0]  # a field read from a variable of its own (OTEL_*): pydantic names that variable
        else:
            name = Settings.model_config["env_prefix"] + Settings.model_config["env_nested_delimiter"].join(
                loc).upper()
        lines.append(f"invalid setting {name}: {error['msg']}")
    return "\n".join(lines)


def get_settings() -> Settings:
    return Settings()
