"""The drift exporter service: POST /ingest, GET /metrics, GET /healthz.

POST /ingest decides what drift the exporter sees, so it is guarded: the shared ingest token when one is
set (MLOBS_DRIFT__INGEST_TOKEN), a body limit applied while the body streams, and a bound on the
(service, model, version) streams it tracks, since each one holds a window and its own series.
"""

from __future__ import annotations

import logging
import re
from contextlib import asynccontextmanager

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.concurrency import run_in_threadpool
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from mlobs.drift import catalog
from mlobs.drift.engine import DriftEngine
from mlobs.metrics import make
from mlobs.protect.body import body_within
from mlobs.tokens import bearer_matches, expected_bearer

log = logging.getLogger(__name__)
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


_PROBABILITY_SUM_TOLERANCE = 1e-2  # float16 outputs of a few classes stay well within it


def _is_probabilities(value, classes: int | None) -> bool:
    if not isinstance(value, list) or len(value) < 2 or (classes is not None and len(value) != classes):
        return False
    if not all(type(p) in (float, int) and 0.0 <= p <= 1.0 for p in value):  # bool, None, NaN and inf fail here
        return False
    return abs(sum(value) - 1.0) <= _PROBABILITY_SUM_TOLERANCE


def _is_valid_sample(sample: dict, classes: int | None) -> bool:
    """A sample as a model service ships it: one bad sample would fail the whole window it lands in (an array
    of rows of mixed types or lengths cannot be built), and values outside [0, 1] would be tested as if they
    were outputs. `classes`: the reference's number of classes, when known."""
    probs = sample.get("probs")
    if probs is not None and not _is_probabilities(probs, classes):
        return False
    for field, kind in (("text", str), ("image", list), ("features", dict), ("segment", str)):
        if sample.get(field) is not None and not isinstance(sample[field], kind):
            return False
    return True


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

    drift = settings.drift
    refused = make(catalog.INGEST_REFUSED, registry)
    dropped = make(catalog.DRIFT_SAMPLES_DROPPED, registry)
    for reason in (catalog.REFUSED_UNAUTHORIZED, catalog.REFUSED_TOO_LARGE, catalog.REFUSED_BAD_BATCH,
                   catalog.REFUSED_TOO_MANY_STREAMS):
        refused.labels(reason)
    expected = expected_bearer(drift.ingest_token)
    if expected is None:
        log.warning("POST /ingest takes batches from anyone who reaches this port: set MLOBS_DRIFT__INGEST_TOKEN "
                    "on the exporter and the services unless only the services can reach it")

    def refuse(reason: str, status: int, message: str, headers: dict | None = None) -> JSONResponse:
        refused.labels(reason).inc()
        return JSONResponse({"error": message}, status_code=status, headers=headers)

    @app.post("/ingest", status_code=202)
    async def ingest(request: Request):
        if expected is not None and not bearer_matches(request.headers.get("authorization"), expected):
            return refuse(catalog.REFUSED_UNAUTHORIZED, 401, "a valid ingest token is required (Authorization: Bearer)",
                          {"www-authenticate": "Bearer"})
        body = await body_within(request, drift.max_ingest_bytes)
        if body is None:
            return refuse(catalog.REFUSED_TOO_LARGE, 413, f"the body may have at most {drift.max_ingest_bytes} bytes")
        try:
            service, model, version, samples = _parse(body, drift.max_ingest_samples)
        except _BadBatch as exc:
            return refuse(catalog.REFUSED_BAD_BATCH, 400, str(exc))
        if not engine.admit((service, model, version)):
            return refuse(catalog.REFUSED_TOO_MANY_STREAMS, 429,
                          f"the exporter tracks {drift.max_streams} (service, model, version) streams at most")
        # The loaded reference's classes; a version not loaded yet has its reference's header read once in a
        # worker thread (again after reference_retry_seconds while it has none): no file I/O on the event loop.
        known, classes = engine.known_classes(model, version)
        if not known:
            classes = await run_in_threadpool(engine.read_classes, model, version)
        valid = [sample for sample in samples if _is_valid_sample(sample, classes)]
        if len(valid) < len(samples):
            dropped.labels(service, model, version, catalog.REASON_INVALID_SAMPLE).inc(len(samples) - len(valid))
        accepted = engine.ingest(service, model, version, valid) if valid else 0
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

