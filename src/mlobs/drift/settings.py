"""Drift settings (MLOBS_DRIFT__*), part of mlobs.settings.Settings."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr


class DriftSettings(BaseModel):
    # Shipper side (model services): the drift exporter samples go to, e.g. http://127.0.0.1:9108;
    # unset, nothing is shipped.
    exporter_url: str | None = None
    # Share of predictions shipped (0 to 1), drawn at random per prediction.
    sample_rate: float = Field(1.0, ge=0.0, le=1.0)
    # Samples per POST to the exporter, at most.
    batch_size: int = Field(64, gt=0)
    # Samples waiting to be shipped, at most; past it new ones are dropped and counted, never waited for.
    queue_size: int = Field(2_048, gt=0)
    # Seconds one POST to the exporter may take; a failed one drops its batch (counted) and backs off.
    timeout_seconds: float = Field(0.5, gt=0.0)
    # Seconds a batch waits to fill before it is sent part full.
    flush_interval_seconds: float = Field(1.0, gt=0.0)
    # Shared secret of the shippers and the exporter: shippers send it as `Authorization: Bearer`, and the
    # exporter refuses a POST /ingest without it (401). Unset, /ingest takes batches from whoever reaches its
    # port, and they decide what drift it sees: set it wherever the port is reachable beyond the services.
    ingest_token: SecretStr | None = None

    # Exporter side. Samples per window, per model version (and per segment): each test compares the latest this many
    # with the reference; 200 is the window the detectors are calibrated and benchmarked at.
    window_size: int = Field(200, gt=1)
    # Evaluate after this many new samples (None: window_size, i.e. non-overlapping windows).
    evaluate_every: int | None = Field(None, gt=0)
    # Also evaluate a partial window this often (seconds) if it holds min_window_samples; 0 turns it off.
    evaluation_interval_seconds: float = Field(0.0, ge=0.0)
    # A window with fewer samples is never tested (a segment's neither); 50 is the smallest calibrated size.
    min_window_samples: int = Field(50, gt=1)
    # Significance level of each test (after its own multiple-testing correction); a version with a
    # calibration decides by the calibrated threshold instead, so that its false-positive rate holds.
    p_value: float = Field(0.05, gt=0.0, lt=1.0)
    # Permutations of the image-embedding MMD test: its cost grows in proportion, and its smallest
    # p-value is 1 / (permutations + 1), so keep it well above 1 / p_value.
    mmd_permutations: int = Field(100, gt=0)
    # confidence_exceedance counts inputs less confident than this quantile of the reference's.
    exceedance_quantile: float = Field(0.9, ge=0.5, lt=1.0)
    # image_exceedance counts images farther from their nearest reference image than this quantile of the
    # reference's own such distances; a shifted image lands far past it, so a high cut keeps clean ones out.
    image_exceedance_quantile: float = Field(0.95, ge=0.5, lt=1.0)
    # Drift per segment of traffic (the sample's "segment": the client by default): the top-N segments by
    # volume get their own `segment` label, the rest "_other"; only these (cheap, output) detectors run.
    segment_top_n: int = Field(5, ge=0)
    # The detectors run per segment, by name: output tests, cheap enough to run per client.
    segment_detectors: tuple[str, ...] = ("softmax_ks", "confidence_exceedance")
    # Seconds before a version whose reference could not be loaded is tried again (meanwhile its samples
    # are not tested and mlobs_drift_reference_missing is 1).
    reference_retry_seconds: float = Field(30.0, ge=0.0)
    # Samples one POST /ingest may carry; a larger batch is refused with 400.
    max_ingest_samples: int = Field(10_000, gt=0)
    # Bytes one POST /ingest may carry; a larger body is refused with 413 as soon as its length says so (or its
    # stream passes it). A default batch of 64 images of 28x28 is about 1 MB.
    max_ingest_bytes: int = Field(32_000_000, gt=0)
    # (service, model, version) streams the exporter keeps windows and series for; a batch of one more is refused
    # with 429, so invented names grow neither memory nor /metrics.
    max_streams: int = Field(256, gt=0)
    # Seconds without a batch after which a stream is retired once its service has sent another version of the
    # model since: its window and every series it has on /metrics go (a dashboard or alert would otherwise read a
    # version nobody serves as drifting, or not), counted in mlobs_drift_streams_retired_total. A stream whose
    # service sent nothing newer stays, so a service that stops shipping keeps DriftEvaluationStale firing.
    # DriftEvaluationStale reads a timestamp up to 5 m after its series goes: a version retired within 900 s of its
    # last evaluation is gone before it would raise that ticket.
    # 0 keeps every stream until a restart.
    retire_after_seconds: float = Field(600.0, ge=0.0)
