"""The drift exporter service: POST /ingest, GET /metrics, GET /healthz."""

from __future__ import annotations

import re
from contextlib import asynccontextmanager

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from mlobs.drift.engine import DriftEngine

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class _BadBatch(ValueError):
    pass


def _parse(body: bytes, max_samples: int) -> tuple[str, str, str, list[dict]]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise _BadBatch(f"body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise _BadBatch("body must be a JSON object")
    names = {}
    for field in ("model", "model_version", "service"):
        value = data.get(field, data.get("model") if field == "service" else None)
        if not isinstance(value, str) or not _NAME.match(value):
            raise _BadBatch(f"{field} must be a name of letters, digits, '.', '_' or '-' (got {value!r})")
        names[field] = value
    samples = data.get("samples")
    if not isinstance(samples, list) or not all(isinstance(s, dict) for s in samples):
        raise _BadBatch("samples must be a list of objects")
    if len(samples) > max_samples:
        raise _BadBatch(f"at most {max_samples} samples per batch, got {len(samples)}")
    return names["service"], names["model"], names["model_version"], samples


def create_app(settings, registry: CollectorRegistry | None = None) -> FastAPI:
    """settings: mlobs.settings.Settings (reads .drift and .artifacts_dir)."""
    registry = registry if registry is not None else CollectorRegistry()
    engine = DriftEngine(settings.drift, settings.artifacts_dir, registry)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        engine.start()
        yield
        engine.stop()

    app = FastAPI(title="mlobs drift exporter", lifespan=lifespan)
    app.state.engine = engine
    app.state.registry = registry

    @app.post("/ingest", status_code=202)
    async def ingest(request: Request):
        try:
            service, model, version, samples = _parse(await request.body(), settings.drift.max_ingest_samples)
        except _BadBatch as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        accepted = engine.ingest(service, model, version, samples)
        return JSONResponse({"accepted": accepted, "received": len(samples)}, status_code=202)

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz")
    def healthz():
        status = "ok" if engine.alive else "degraded"
        return JSONResponse(
            {
                "status": status,
                "evaluator_alive": engine.alive,
                "windows": engine.windows(),
                "missing_references": engine.missing_references(),
            },
            status_code=200 if engine.alive else 503,
        )

    @app.get("/readyz")
    def readyz():
        ready = engine.alive and engine.ready.is_set()
        # Which model versions drift can be tested for: a service whose version is not listed here
        # (an artifact trained elsewhere) gets no drift test and no drift page.
        return JSONResponse({"status": "ready" if ready else "loading references",
                             "references": engine.references(), "missing_references": engine.missing_references()},
                            status_code=200 if ready else 503)

    return app

