"""Drift settings (MLOBS_DRIFT__*), part of mlobs.settings.Settings."""

from __future__ import annotations

from pydantic import BaseModel, Field


class DriftSettings(BaseModel):
    # Shipper side (model services).
    exporter_url: str | None = None  # e.g. http://127.0.0.1:9108 ; None turns shipping off
    sample_rate: float = Field(1.0, ge=0.0, le=1.0)
    batch_size: int = Field(64, gt=0)
    queue_size: int = Field(2_048, gt=0)
    timeout_seconds: float = Field(0.5, gt=0.0)
    flush_interval_seconds: float = Field(1.0, gt=0.0)

    # Exporter side.
    host: str = "127.0.0.1"
    port: int = Field(9108, gt=0, lt=65536)
    window_size: int = Field(200, gt=1)
    # Evaluate after this many new samples (None: window_size, i.e. non-overlapping windows).
    evaluate_every: int | None = Field(None, gt=0)
    # Also evaluate a partial window this often (seconds) if it holds min_window_samples; 0 turns it off.
    evaluation_interval_seconds: float = Field(0.0, ge=0.0)
    min_window_samples: int = Field(50, gt=1)
    p_value: float = Field(0.05, gt=0.0, lt=1.0)
    mmd_permutations: int = Field(100, gt=0)
    # confidence_exceedance counts inputs less confident than this quantile of the reference's.
    exceedance_quantile: float = Field(0.9, ge=0.5, lt=1.0)
    # image_exceedance counts images farther from their nearest reference image than this quantile of the
    # reference's own such distances; a shifted image lands far past it, so a high cut keeps clean ones out.
    image_exceedance_quantile: float = Field(0.95, ge=0.5, lt=1.0)
    # Drift per segment of traffic (the sample's "segment": the client by default): the top-N segments by
    # volume get their own `segment` label, the rest "_other"; only these (cheap, output) detectors run.
    segment_top_n: int = Field(5, ge=0)
    segment_detectors: tuple[str, ...] = ("softmax_ks", "confidence_exceedance")
    reference_retry_seconds: float = Field(30.0, ge=0.0)
    max_ingest_samples: int = Field(10_000, gt=0)
