"""Protection added to a user's own app leaves the app's own pages and slow endpoints alone."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from mlobs import ModelInfo, instrument

MODEL = ModelInfo("toy", "v1", "d", "c")


def protected_app(settings, sinks):
    app = FastAPI()
    instrument(app, MODEL, settings=settings, configure_logging=False, protect=True, **sinks.kwargs())

    @app.get("/answer")
    async def answer():
        return {"answer": 42}

    @app.get("/slow")
    async def slow():
        await asyncio.sleep(5.5)
        return {"done": True}

    return app


def test_the_apps_own_docs_page_is_served_with_a_policy_that_lets_it_load(settings, sinks):
    with TestClient(protected_app(settings, sinks)) as client:
        docs = client.get("/docs")
        api = client.get("/answer")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert "default-src 'none'" not in docs.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in docs.headers["content-security-policy"]
    assert docs.headers["x-content-type-options"] == "nosniff"
    assert api.headers["content-security-policy"].startswith("default-src 'none'")


@pytest.mark.slow
def test_there_is_no_request_deadline_unless_one_is_configured(settings, sinks):
    with TestClient(protected_app(settings, sinks)) as client:
        response = client.get("/slow")
    assert response.status_code == 200 and response.json() == {"done": True}
