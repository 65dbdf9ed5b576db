"""Fault injection settings (MLOBS_FAULT__*), part of mlobs.settings.Settings. All off by default."""

from __future__ import annotations

from pydantic import BaseModel, Field


class FaultSettings(BaseModel):
    # Seconds added to every /predict answer once the fault starts (0: none). For scenario runs only.
    predict_delay_s: float = Field(0.0, ge=0, le=30)
    # Share of /predict requests answered 503 once the fault starts (0: none). For scenario runs only.
    predict_error_ratio: float = Field(0.0, ge=0, le=1)
    # The fault starts this many seconds after the first /predict request the process receives.
    after_s: float = Field(0.0, ge=0)

    @property
    def enabled(self) -> bool:
        return self.predict_delay_s > 0 or self.predict_error_ratio > 0
