"""On-call receiver settings (MLOBS_ONCALL__*), part of mlobs.settings.Settings."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr


class OncallSettings(BaseModel):
    # Notifications kept in memory for GET /pages (oldest dropped first).
    keep: int = Field(1_000, gt=0)
    # Bytes (as JSON) the notifications kept in memory may take, at most (oldest dropped first): `keep`
    # notifications of up to max_body_bytes each would otherwise hold gigabytes.
    keep_bytes: int = Field(64_000_000, gt=0)
    # Also append every notification to this file, one JSON object per line (None: memory and log only).
    journal_path: Path | None = None
    # Bytes the journal may grow to; past it the file is renamed to `<journal_path>.1` (replacing the one
    # before) and a new one started, so the journal takes at most about twice this on disk.
    journal_max_bytes: int = Field(256_000_000, gt=0)
    # How long a webhook waits for its journal write: past it (a volume that does not answer) the page stays
    # listed and the webhook is answered 500, so Alertmanager retries it.
    journal_timeout_s: float = Field(5.0, gt=0)
    # Shared secret with Alertmanager: POST /alerts without `Authorization: Bearer <token>` is refused with 401
    # (Alertmanager's webhook_config sends it with http_config.authorization.credentials_file). Unset, anyone
    # who reaches the port can post pages.
    token: SecretStr | None = None
    # Alertmanager sends one group per request; a group of thousands of alerts is still far below this.
    max_body_bytes: int = Field(4_000_000, gt=0)
    # Alertmanager posts the always-firing PagingHeartbeat alert to POST /heartbeat about once a minute. With no
    # heartbeat for this many seconds (counted from start, then from the last one) the receiver raises its own
    # page, PagingPathSilent: Prometheus, its rules, Alertmanager or the token between them has stopped
    # delivering, and every other page with it. 0 turns the watch off (no heartbeat route configured).
    heartbeat_timeout_s: float = Field(300.0, ge=0)
