"""The audit log of a user's own service, opened with `open_decision_log(..., app)`."""

from __future__ import annotations

from contextlib import asynccontextmanager

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from mlobs import ModelInfo, instrument
from mlobs.audit import AuditUnavailable, Decision
from mlobs.decisions import open_decision_log
from mlobs.settings import Settings


def test_an_app_with_a_lifespan_of_its_own_closes_its_audit_log_at_shutdown(tmp_path):
    """FastAPI runs no on_shutdown handler for an app with `lifespan=`: the log would be left unsigned."""

    @asynccontextmanager
    async def lifespan(app):
        yield

    app = FastAPI(lifespan=lifespan)
    settings = Settings(artifacts_dir=tmp_path, telemetry_enabled=False, _env_file=None)
    model = ModelInfo(name="scorer", version="1", training_data_hash="d41d8cd9", code_revision="3f2a9c1")
    decisions = open_decision_log(settings, instrument(app, model, settings=settings), model, app)
    with TestClient(app):
        decisions.audit.append(Decision("scorer", "scorer", "1", {"score": 1}))
    with pytest.raises(AuditUnavailable, match="closed"):
        decisions.audit.append(Decision("scorer", "scorer", "1", {"score": 2}))
