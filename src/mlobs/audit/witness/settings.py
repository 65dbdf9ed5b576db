"""Witness settings (MLOBS_AUDIT_WITNESS__*), part of mlobs.settings.Settings."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr


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
