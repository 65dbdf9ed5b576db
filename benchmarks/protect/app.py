"""The protected sentiment service for the flood benchmark (uvicorn --factory app:create)."""

from __future__ import annotations

import os

from mlobs.protect import ProtectSettings, protect
from mlobs.settings import Settings
from mlobs_services.sentiment.service import create_app


def create():
    settings = Settings()
    app = create_app(settings)
    protect(app, settings, app.state.telemetry,
            protect_settings=ProtectSettings.model_validate_json(os.environ["BENCH_PROTECT"]))
    return app
