"""Witness settings (MLOBS_AUDIT_WITNESS__*), part of mlobs.settings.Settings."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, model_validator


class WitnessSettings(BaseModel):
    # The audit log's service, e.g. http://credit:8000 (its /audit/checkpoint and /audit/consistency).
    source_url: str | None = None
    # The bearer token the log's service expects (its MLOBS_AUDIT__WITNESS_TOKEN).
    token: SecretStr | None = None
    # The log's checkpoint public key (PEM), obtained apart from the log: the witness's trust.
    log_public_key: Path | None = None
    # The witness's own store: its key and every checkpoint it cosigned. Keep it off the log's host.
    dir: Path = Path("audit-witness")
    # The witness's name on its cosignatures.
    name: str = Field("mlobs.local/witness", min_length=1, pattern=r"^[^\s+]+$")
    # Seconds between two polls of the log's latest checkpoint (each new one is proven consistent with
    # the last cosigned one, then cosigned): a rollback or split view is seen within about this long.
    interval_s: float = Field(5.0, gt=0)
    # Seconds one request to the log's service may take before the poll counts as refused.
    timeout_s: float = Field(10.0, gt=0)
    # /healthz answers 503 (and mlobs_audit_witness_healthy is 0) once no round has reached the log and verified
    # what it served for this long; longer than a slow round (the interval plus two requests' timeouts).
    stale_after_s: float = Field(60.0, gt=0)

    @model_validator(mode="after")
    def _stale_after_outlasts_a_round(self) -> "WitnessSettings":
        slowest = self.interval_s + 2 * self.timeout_s
        if self.stale_after_s <= slowest:
            raise ValueError(f"stale_after_s ({self.stale_after_s:g}) must exceed interval_s + 2 * timeout_s "
                             f"({slowest:g}): a slow but healthy round would read as stale")
        return self
