"""instrument(app, model_info): metrics, traces and logs for a FastAPI model service in one call."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import time

from fastapi import FastAPI
from opentelemetry import context, trace
from opentelemetry.propagate import extract
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.exposition import choose_encoder
from starlette.requests import Request
from starlette.responses import Response

from mlobs import catalog
from mlobs.drift.shipper import DriftShipper
from mlobs.errors import install_handlers, install_server_error_handler
from mlobs.heap import freeze_startup_heap, set_young_threshold
from mlobs.inference import InferenceRunner
from mlobs.logs import JsonLogWriter, install
from mlobs.metrics import ServiceMetrics
from mlobs.model_info import ModelInfo
from mlobs.protect import protect
from mlobs.settings import Settings, get_settings
from mlobs.tracing import MODEL_NAME_ATTR, MODEL_VERSION_ATTR, create_tracer_provider, otlp_exporter

UNTRACED_PATHS = frozenset({"/metrics", "/healthz", "/readyz"})
UNMATCHED_ROUTE = "unmatched"


class Telemetry:
    """What a service uses on its request path; one per app."""

    def __init__(
        self,
        service: str,
        model: ModelInfo,
        settings: Settings,
        registry: CollectorRegistry,
        span_exporter: SpanExporter | None,
        log_stream=None,
    ):
        self.service = service
        self.model = model
        self.settings = settings
        self.registry = registry
        self.metrics = ServiceMetrics(registry, service, model)
        if span_exporter is None and settings.otlp_endpoint:
            span_exporter = otlp_exporter()
        self.tracer_provider = create_tracer_provider(
            service, settings.environment, model, span_exporter,
            lambda signal, n: self.metrics.dropped(signal).inc(n),
        )
        self.tracer = self.tracer_provider.get_tracer("mlobs")
        self.log = JsonLogWriter(
            {"service": service, catalog.MODEL: model.name, catalog.MODEL_VERSION: model.version},
            stream=log_stream,
            max_queue=settings.log_queue_size,
            on_dropped=self.metrics.dropped("logs_queue_full").inc,
        )
        self.span_attributes = {MODEL_NAME_ATTR: model.name, MODEL_VERSION_ATTR: model.version}
        self.runner = InferenceRunner(settings.inference_timeout_s)
        self.drift = DriftShipper.from_settings(
            settings.drift, service=service, model=model.name, model_version=model.version, registry=registry
        )

    def inference(self, batch_size: int = 1) -> "_Inference":
        """Time one model call as a child span of the request's span, and in the inference histogram."""
        return _Inference(self, batch_size)

    async def predict(self, fn, *args, batch_size: int = 1):
        """fn(*args) inside inference(), inline or on the deadline-bound worker (MLOBS_INFERENCE_TIMEOUT_S)."""
        with self.inference(batch_size):
            return await self.runner.run(fn, *args)

    def record_predictions(self, classes, confidences) -> None:
        for cls, confidence in zip(classes, confidences):
            self.metrics.prediction(cls).inc()
            self.metrics.confidence.observe(confidence)

    def record_feedback(self, correct: bool) -> None:
        self.metrics.feedback(catalog.OUTCOME_CORRECT if correct else catalog.OUTCOME_INCORRECT).inc()

    def ship(self, sample: dict) -> None:
        """Offer an input/output sample to the drift exporter (sampled, never blocks, never raises)."""
        if self.drift is not None:
            self.drift.offer(sample)

    def request_id(self, request: Request) -> str:
        return request.state.request_id

    def flush(self) -> None:
        self.tracer_provider.force_flush()
        self.log.flush()

    def shutdown(self) -> None:
        self.runner.shutdown()
        if self.drift is not None:
            self.drift.close()
        self.tracer_provider.shutdown()
        self.log.close()


class NullTelemetry:
    """The same interface doing nothing: MLOBS_TELEMETRY_ENABLED=false (the benchmark's bare baseline)."""

    metrics = None

    def __init__(self, settings: Settings):
        self.runner = InferenceRunner(settings.inference_timeout_s)

    def inference(self, batch_size: int = 1):
        return contextlib.nullcontext()

    async def predict(self, fn, *args, batch_size: int = 1):
        return await self.runner.run(fn, *args)

    def record_predictions(self, classes, confidences) -> None:
        pass

    def record_feedback(self, correct: bool) -> None:
        pass

    def ship(self, sample: dict) -> None:
        pass

    def request_id(self, request: Request) -> str:
        return os.urandom(16).hex()

    def flush(self) -> None:
        pass

    def shutdown(self) -> None:
        pass


class _Inference:
    __slots__ = ("_telemetry", "_batch_size", "_span", "_token", "_start")

    def __init__(self, telemetry: Telemetry, batch_size: int):
        self._telemetry = telemetry
        self._batch_size = batch_size

    def __enter__(self):
        t = self._telemetry
        self._span = t.tracer.start_span("inference", attributes={**t.span_attributes, "ml.batch_size": self._batch_size})
        self._token = context.attach(trace.set_span_in_context(self._span))
        self._start = time.perf_counter()
        return self._span

    def __exit__(self, exc_type, exc, tb):
        elapsed = time.perf_counter() - self._start
        context.detach(self._token)
        span = self._span
        if exc is not None:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR))
        span.end()
        # No exemplar here: the request histogram carries the trace link; validating a second costs.
        self._telemetry.metrics.inference.observe(elapsed)
        return False


class TelemetryMiddleware:
    """Pure ASGI: one server span, one histogram observation and one log line per request."""

    def __init__(self, app, telemetry: Telemetry):
        self.app = app
        self.t = telemetry

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in UNTRACED_PATHS:
            await self.app(scope, receive, send)
            return
        t = self.t
        start = time.perf_counter()
        method = scope["method"]
        parent = _parent_context(scope)
        # Attributes are set once at the end: each set takes the span's lock and validates.
        span = t.tracer.start_span(method, context=parent, kind=SpanKind.SERVER)
        token = context.attach(trace.set_span_in_context(span, parent))
        request_id = os.urandom(16).hex()
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500

        async def send_with_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        except Exception as exc:
            status = 500
            span.record_exception(exc)
            raise
        finally:
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            route = route.path if route is not None else UNMATCHED_ROUTE
            span.update_name(f"{method} {route}")
            span.set_attributes({"http.request.method": method, "http.route": route,
                                 "http.response.status_code": status, "mlobs.request_id": request_id})
            if status >= 500:
                span.set_status(Status(StatusCode.ERROR))
            ctx = span.get_span_context()
            trace_id, span_id = format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")
            span.end()
            context.detach(token)
            t.metrics.http(method, route, status).observe(
                elapsed, {"trace_id": trace_id} if ctx.trace_flags.sampled else None
            )
            if t.settings.access_log:
                t.log.write(
                    "INFO", "request",
                    {"method": method, "route": route, "status": status,
                     "duration_ms": round(elapsed * 1000, 3), "request_id": request_id},
                    trace_id, span_id,
                )


def _parent_context(scope):
    for name, _ in scope["headers"]:
        if name == b"traceparent":
            return extract({k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]})
    return None


def add_probes(app: FastAPI, model_info: ModelInfo) -> None:
    """GET /healthz (the process answers) and GET /readyz (the model is loaded), naming the version."""
    body = {"model": model_info.name, "model_version": model_info.version}

    async def healthz():
        return {"status": "ok", **body}

    async def readyz():
        return {"status": "ready", **body}

    app.add_api_route("/healthz", healthz, methods=["GET"], tags=["probes"])
    app.add_api_route("/readyz", readyz, methods=["GET"], tags=["probes"])


def _metrics_endpoint(registry: CollectorRegistry):
    async def metrics(request: Request) -> Response:
        encoder, content_type = choose_encoder(request.headers.get("accept"))
        return Response(encoder(registry), media_type=content_type)

    return metrics


def instrument(
    app: FastAPI,
    model_info: ModelInfo,
    *,
    service_name: str | None = None,
    settings: Settings | None = None,
    registry: CollectorRegistry | None = None,
    span_exporter: SpanExporter | None = None,
    log_stream=None,
    configure_logging: bool = True,
    body_limits: dict[str, int] | None = None,
) -> Telemetry | NullTelemetry:
    """Instrument `app` serving `model_info`. Returns the Telemetry the endpoints use.

    Adds GET /healthz and /readyz, GET /metrics (OpenMetrics with trace exemplars when asked), a server
    span per request, JSON access logs carrying trace_id/span_id, and JSON 4xx
    errors counted by reason. Traces go to OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT
    is set (or to `span_exporter`), nowhere otherwise.
    """
    settings = settings or get_settings()
    if settings.gc_freeze:
        app.router.on_startup.append(freeze_startup_heap)
    app.router.on_startup.append(functools.partial(set_young_threshold, settings.gc_young_threshold))
    add_probes(app, model_info)
    if not settings.telemetry_enabled:
        install_handlers(app, None)
        install_server_error_handler(app)
        app.state.telemetry = NullTelemetry(settings)
        return app.state.telemetry
    if registry is None:
        registry = CollectorRegistry()
        ProcessCollector(registry=registry)
    service = service_name or settings.service_name or model_info.name
    telemetry = Telemetry(service, model_info, settings, registry, span_exporter, log_stream)
    if configure_logging:
        install(telemetry.log, settings.log_level)
    app.state.telemetry = telemetry
    app.add_middleware(TelemetryMiddleware, telemetry=telemetry)
    app.add_api_route("/metrics", _metrics_endpoint(registry), methods=["GET"], include_in_schema=False)
    install_handlers(app, telemetry.metrics)
    install_server_error_handler(app)
    app.router.on_shutdown.append(telemetry.shutdown)
    # Inside the telemetry middleware, so refusals (401, 413, 429) are measured, traced and logged.
    protect(app, settings, telemetry, body_limits=body_limits)
    logging.getLogger("mlobs").info("instrumented %s model %s version %s", service, model_info.name, model_info.version)
    return telemetry
