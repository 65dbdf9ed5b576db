"""The sentiment service with the stack a user would otherwise assemble for the same features:
opentelemetry-instrumentation-fastapi (default spans) with an inference child span,
prometheus-fastapi-instrumentator on /metrics, one JSON access line per request from an
`@app.middleware("http")` function. mlobs's own telemetry is off (MLOBS_TELEMETRY_ENABLED=false).

    python -m uvicorn standard_stack:app --app-dir benchmarks --no-access-log
"""

import logging
import os
import sys
import time

import orjson
from opentelemetry import trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from prometheus_fastapi_instrumentator import Instrumentator

from mlobs.instrumentation import NullTelemetry
from mlobs.settings import Settings
from mlobs_services.sentiment.service import create_app

provider = TracerProvider(resource=Resource.create({"service.name": "sentiment"}))
if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
trace.set_tracer_provider(provider)
tracer = trace.get_tracer("sentiment")

# The inference span a user would add around the model call.
NullTelemetry.inference = lambda self, batch_size=1: tracer.start_as_current_span(
    "inference", attributes={"ml.batch_size": batch_size})

app = create_app(Settings())

access = logging.getLogger("access")
access.addHandler(logging.StreamHandler(sys.stdout))
access.setLevel(logging.INFO)
access.propagate = False


@app.middleware("http")
async def access_log(request, call_next):
    start = time.perf_counter()
    response = await call_next(request)
    ctx = trace.get_current_span().get_span_context()
    access.info(orjson.dumps({
        "timestamp": time.time(), "level": "INFO", "message": "request", "method": request.method,
        "path": request.url.path, "status": response.status_code,
        "duration_ms": round((time.perf_counter() - start) * 1000, 3),
        "trace_id": format(ctx.trace_id, "032x"), "span_id": format(ctx.span_id, "016x"),
    }).decode())
    return response


Instrumentator().instrument(app).expose(app)
FastAPIInstrumentor.instrument_app(app)
