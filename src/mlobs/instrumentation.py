"""instrument(app, model_info): metrics, traces and logs for a FastAPI model service in one call.

mlobs joins what the application already has: the global TracerProvider (or one it creates and
sets globally), the prometheus_client registry the application passes (or the default REGISTRY),
so spans and metrics of the application's own code sit beside mlobs's.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import logging
import os
import random
import time
import weakref

from fastapi import FastAPI
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
    websocket_request_validation_exception_handler,
)
from opentelemetry import context, trace
from opentelemetry.propagate import extract, get_global_textmap
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import choose_encoder
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Mount

from mlobs import catalog, semconv
from mlobs.deadline import Deadline, finished_within
from mlobs.errors import install_handlers, install_server_error_handler
from mlobs.inference import InferenceRunner
from mlobs.lifespan import around_lifespan
from mlobs.logs import JsonLogWriter, install, quiet_server_access_log
from mlobs.metrics import ServiceMetrics
from mlobs.model_info import ModelInfo
from mlobs.settings import Settings, get_settings
from mlobs.spans import LeanSpan, LeanTracer
from mlobs.tracing import (
    MODEL_NAME_ATTR,
    MODEL_VERSION_ATTR,
    create_tracer_provider,
    has_span_processors,
    joined_tracer_provider,
    otlp_config_problems,
    otlp_exporter,
    service_resource,
    traces_exporter_wanted,
)
from mlobs.workers import uvicorn_workers

UNTRACED_PATHS = frozenset({"/metrics", "/healthz", "/readyz"})
UNMATCHED_ROUTE = semconv.UNMATCHED_ROUTE
INFERENCE_DURATION_ATTR = "ml.inference.duration"
REQUEST_ID_MAX = 128  # bytes of an x-request-id the application set itself, as logged
BATCH_SIZE_ATTR = "ml.batch_size"
_W3C = TraceContextTextMapPropagator()
_NOT_SAMPLED = TraceFlags(TraceFlags.DEFAULT)


class Telemetry:
    """What a service uses on its request path; one per app."""

    def __init__(
        self,
        service: str,
        model: ModelInfo,
        settings: Settings,
        registry: CollectorRegistry,
        tracer_provider: trace.TracerProvider,
        *,
        owns_provider: bool = False,
        made_provider: bool = False,
        log_stream=None,
    ):
        self.service = service
        self.model = model
        self.settings = settings
        self.registry = registry
        self.metrics = ServiceMetrics(registry, service, model, settings.client_cost_top_n)
        self.tracer_provider = tracer_provider
        self._owns_provider = owns_provider
        self.tracer = tracer_provider.get_tracer("mlobs")
        self.spans_wanted = has_span_processors(tracer_provider)
        # Spans built at their end (mlobs.spans) only on a provider mlobs made itself.
        self.lean = LeanTracer(tracer_provider) if made_provider and LeanTracer.usable(tracer_provider) else None
        self.known_methods = semconv.known_methods()
        self.log = JsonLogWriter(
            {"service": service, catalog.MODEL: model.name, catalog.MODEL_VERSION: model.version},
            stream=log_stream,
            max_queue=settings.log_queue_size,
            max_queue_bytes=settings.log_queue_bytes,
            on_dropped=self.metrics.dropped("logs_queue_full").inc,
        )
        self.span_attributes = {MODEL_NAME_ATTR: model.name, MODEL_VERSION_ATTR: model.version}
        self.runner = InferenceRunner(settings.inference_timeout_s)
        self.drift = None
        if settings.drift.exporter_url:
            from mlobs.drift.shipper import DriftShipper  # httpx: only services that ship samples need it

            self.drift = DriftShipper.from_settings(
                settings.drift, service=service, model=model.name, model_version=model.version, registry=registry
            )
        self.exporters: list = []  # OTLP metric and log exporters started for this app (mlobs.otlp)
        self._shut = False

    def inference(self, batch_size: int = 1, cpu: bool = True) -> "_Inference":
        """Time one model call: a child span of the request's span (or, with MLOBS_INFERENCE_SPAN=false,
        attributes on the request's span), the inference histogram and, with `cpu`, this thread's CPU
        time in the block (mlobs_inference_cpu_seconds_total: keep the block free of awaits)."""
        return _Inference(self, batch_size, cpu)

    async def predict(self, fn, *args, batch_size: int = 1):
        """fn(*args) inside inference(), inline or on a worker (MLOBS_INFERENCE_TIMEOUT_S, protection's pool);
        its CPU time is read on whichever thread runs it."""
        with self.inference(batch_size, cpu=False):
            return await self.runner.run(functools.partial(_charged, self.metrics.charge_cpu, fn), *args)

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
        for exporter in self.exporters:
            exporter.flush()

    def shutdown(self) -> None:
        """Stop within MLOBS_TELEMETRY_SHUTDOWN_S however slow the collector, and 2 s more for stdout.
        Once: at the app's shutdown, else at the process's exit (a mounted app's lifespan never runs)."""
        if self._shut:
            return
        self._shut = True
        deadline = Deadline(self.settings.telemetry_shutdown_s)
        self.runner.shutdown()
        if self.drift is not None:
            self.drift.close()
        for exporter in self.exporters:
            exporter.shutdown(deadline.left())
        # A provider mlobs made for this app alone ends with it; a global one (the application's,
        # or one mlobs set) serves other apps and the application's own code: flushed only.
        provider = self.tracer_provider
        if self._owns_provider:
            finished_within(deadline.left(), provider.shutdown)
        else:
            left_ms = int(deadline.left() * 1000)
            finished_within(deadline.left(), lambda: provider.force_flush(left_ms))
        self.log.close()  # stdout: its own short bound, whatever the collector took


class NullTelemetry:
    """The same interface doing nothing: MLOBS_TELEMETRY_ENABLED=false (the benchmark's bare baseline)."""

    metrics = None

    def __init__(self, settings: Settings):
        self.runner = InferenceRunner(settings.inference_timeout_s)

    def inference(self, batch_size: int = 1, cpu: bool = True):
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


def _charged(charge, fn, *args):
    """fn(*args), charging the CPU time of the thread that runs it with `charge(seconds)`."""
    start = time.thread_time()
    try:
        return fn(*args)
    finally:
        charge(time.thread_time() - start)


class _Inference:
    __slots__ = ("_telemetry", "_batch_size", "_cpu", "_span", "_token", "_start", "_cpu_start")

    def __init__(self, telemetry: Telemetry, batch_size: int, cpu: bool = True):
        self._telemetry = telemetry
        self._batch_size = batch_size
        self._cpu = cpu

    def __enter__(self):
        t = self._telemetry
        self._span = None
        parent = trace.get_current_span()
        # No span under an unsampled request: nothing would record it.
        if t.settings.inference_span and type(parent) is LeanSpan and parent.is_recording():
            self._span = t.lean.start_child("inference", parent, {**t.span_attributes,
                                                                  BATCH_SIZE_ATTR: self._batch_size})
            self._token = context.attach(trace.set_span_in_context(self._span))
        elif t.settings.inference_span and (parent.is_recording() or parent is trace.INVALID_SPAN) and t.spans_wanted():
            self._span = t.tracer.start_span("inference", attributes={**t.span_attributes,
                                                                      BATCH_SIZE_ATTR: self._batch_size})
            self._token = context.attach(trace.set_span_in_context(self._span))
        elif parent.is_recording():
            self._span = parent
            self._token = None
        self._cpu_start = time.thread_time() if self._cpu else 0.0
        self._start = time.perf_counter()
        return self._span if self._span is not None else trace.INVALID_SPAN

    def __exit__(self, exc_type, exc, tb):
        elapsed = time.perf_counter() - self._start
        if self._cpu:
            self._telemetry.metrics.charge_cpu(time.thread_time() - self._cpu_start)
        span = self._span
        if span is not None:
            if self._token is None:  # the request's span: timing as attributes
                span.set_attributes({INFERENCE_DURATION_ATTR: elapsed, BATCH_SIZE_ATTR: self._batch_size})
            else:
                context.detach(self._token)
                if exc is not None:
                    span.record_exception(exc)
                    span.set_status(Status(StatusCode.ERROR))
                span.end()
        # No exemplar here: the request histogram carries the trace link; validating a second costs.
        self._telemetry.metrics.inference.observe(elapsed)
        return False


class TelemetryMiddleware:
    """Pure ASGI: one server span (none when nothing would record it), one histogram observation and
    one log line per request. Attributes follow the stable OTel HTTP conventions (mlobs.semconv)."""

    def __init__(self, app, telemetry: Telemetry, router=None):
        self.app = app
        self.router = router  # the application's, for the templates of mounted routes
        self.t = telemetry
        self.tracer = telemetry.tracer
        self.known = telemetry.known_methods
        self.trust = telemetry.settings.trust_incoming_trace
        self.fields = frozenset(f.lower().encode("latin-1") for f in get_global_textmap().fields) | {b"traceparent"}
        self.spans_wanted = telemetry.spans_wanted
        self.lean = telemetry.lean
        self.log = telemetry.log if telemetry.settings.access_log else None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or _app_path(scope) in UNTRACED_PATHS:
            await self.app(scope, receive, send)
            return
        t = self.t
        start = time.perf_counter()
        method = scope["method"]
        if method not in self.known:
            method = semconv.OTHER
        parent, links = self._incoming(scope["headers"])
        if not self.spans_wanted():
            span = _unrecorded(parent)
        elif self.lean is not None:
            span = self.lean.start_server(method, parent, links)
        else:
            span = self.tracer.start_span(method, context=parent, kind=SpanKind.SERVER, links=links)
        token = context.attach(trace.set_span_in_context(span, parent))
        request_id = os.urandom(16).hex()
        scope.setdefault("state", {})["request_id"] = request_id
        root_path = scope.get("root_path", "")
        status = None
        answered = None  # (perf_counter, time_ns) of the response's last byte
        left = False  # the client went away before its answer was complete
        recorded = False

        def record(error) -> None:
            nonlocal recorded, status
            recorded = True
            if left:
                # Whatever the app did next (a 400 for half a body, a ClientDisconnect), nobody got
                # it: not a server error a client could mint at will to burn the service's SLO.
                status, error = semconv.CLIENT_CLOSED, None
            elif status is None:
                status = 500
            end, end_ns = answered if answered is not None else (time.perf_counter(), time.time_ns())
            elapsed = end - start
            route = _route_template(self.router, scope, root_path)
            ctx = span.get_span_context()
            sampled = span.is_recording()
            if sampled:
                _finish(span, scope, method, route, status, error, request_id, end_ns)
            trace_id, span_id = format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")
            t.metrics.http(method, route or UNMATCHED_ROUTE, status).observe(
                elapsed, {"trace_id": trace_id} if sampled and ctx.trace_flags.sampled else None
            )
            if self.log is not None:
                fields = {"method": method, "route": route or UNMATCHED_ROUTE, "status": status,
                          "duration_ms": round(elapsed * 1000, 3), "request_id": request_id}
                if error is not None:  # also after a 200 was sent: a stream cut by an exception
                    fields["error"] = type(error).__qualname__
                self.log.write("INFO", "request", fields, trace_id, span_id)

        async def receive_watching():
            nonlocal left
            message = await receive()
            if message["type"] == "http.disconnect" and answered is None:
                left = True
            return message

        async def send_with_status(message):
            nonlocal status, answered, request_id
            kind = message["type"]
            if kind == "http.response.start":
                status = message["status"]
                headers = message.setdefault("headers", [])
                for name, value in headers:
                    if name.lower() == b"x-request-id":  # the app's own: the one the client and the logs see
                        request_id = value[:REQUEST_ID_MAX].decode("latin-1")
                        break
                else:
                    headers.append((b"x-request-id", request_id.encode()))
            await send(message)
            if kind == "http.response.body" and not message.get("more_body", False):
                answered = time.perf_counter(), time.time_ns()
                if status < 500:
                    # Answered: background tasks run next, inside the app call, and the client is not
                    # waiting for them; a task that never ends must not keep the request unrecorded.
                    # A 5xx waits for the exception the app raises right after it.
                    record(None)

        try:
            await self.app(scope, receive_watching, send_with_status)
        except Exception as exc:
            if not recorded:
                record(exc)
            raise
        finally:
            context.detach(token)
            if not recorded:
                record(None)

    def _incoming(self, headers):
        """The caller's trace context: the parent with MLOBS_TRUST_INCOMING_TRACE=true; otherwise a
        link to its ids only, so a client can neither join nor force sampling of the service's traces."""
        fields = self.fields
        for name, _ in headers:
            if name in fields:
                break
        else:
            return None, None
        carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in headers}
        if self.trust:
            return extract(carrier), None
        caller = trace.get_current_span(_W3C.extract(carrier)).get_span_context()
        if not caller.is_valid:
            return None, None
        # The ids only: the caller's tracestate is free text it chose, and would leave on the span.
        return None, [Link(SpanContext(caller.trace_id, caller.span_id, True, caller.trace_flags))]


def _app_path(scope) -> str:
    """The path as the app routes it: behind `--root-path /churn` uvicorn sends /churn/metrics."""
    path, root = scope["path"], scope.get("root_path")
    return path[len(root):] if root and path.startswith(root) else path


def _unrecorded(parent) -> NonRecordingSpan:
    """Ids for logs and response correlation without a span object the SDK would build and drop."""
    caller = trace.get_current_span(parent).get_span_context() if parent is not None else None
    trace_id = caller.trace_id if caller is not None and caller.is_valid else random.getrandbits(128)
    return NonRecordingSpan(SpanContext(trace_id, random.getrandbits(64), False, _NOT_SAMPLED))


def _route_template(router, scope, root_path: str) -> str | None:
    """The template of the route that answered, mounts included: a sub-application mounted at
    `/v1` answers `/v1/items/{iid}`, not `/items/{iid}` (which a second mount would share); what a
    mount answers without a route of its own (static files, its 404s) is `/v1/{path}`, as in
    FastAPI's own telemetry."""
    route = scope.get("route")
    if scope.get("root_path", "") == root_path:  # no mount crossed: the common case
        return getattr(route, "path", None)  # a Host route, or an application's own, may have none
    path = scope["path"]
    path = path[len(root_path):] if root_path and path.startswith(root_path) else path
    found = _mounted(router, path, route)
    return found if found is not None else getattr(route, "path", None)


def _mounted(router, path: str, target) -> str | None:
    for candidate in getattr(router, "routes", ()):
        if target is not None and candidate is target:
            return getattr(candidate, "path", None)
        if isinstance(candidate, Mount):
            match = candidate.path_regex.match(path)
            if match:
                inner = _mounted(candidate, "/" + match.group("path"), target)
                if inner is not None:
                    return candidate.path + inner
                if target is None:
                    return candidate.path + "/{path}"
    return None


def _finish(span, scope, method: str, route: str | None, status: int, error, request_id: str,
            end_time: int) -> None:
    attributes = {
        semconv.HTTP_REQUEST_METHOD: method,
        semconv.URL_SCHEME: scope.get("scheme", "http"),
        semconv.HTTP_RESPONSE_STATUS_CODE: status,
        semconv.NETWORK_PROTOCOL_VERSION: scope.get("http_version", "1.1"),
        "mlobs.request_id": request_id,
    }
    if method == semconv.OTHER:
        attributes[semconv.HTTP_REQUEST_METHOD_ORIGINAL] = scope["method"][:semconv.ORIGINAL_METHOD_MAX]
    if route is not None:
        attributes[semconv.HTTP_ROUTE] = route
    if route is not None or semconv.served(scope):
        attributes[semconv.URL_PATH] = scope["path"]
    server = scope.get("server")
    host = None
    for name, value in scope["headers"]:
        if name == b"host":
            host = value.decode("latin-1")
        elif name == b"user-agent":
            attributes[semconv.USER_AGENT_ORIGINAL] = value.decode("latin-1")
    if host:
        address, port = semconv.split_host(host, server[1] if server else None)
        attributes[semconv.SERVER_ADDRESS] = address
        if port is not None:
            attributes[semconv.SERVER_PORT] = port
    elif server:
        attributes[semconv.SERVER_ADDRESS], attributes[semconv.SERVER_PORT] = server[0], server[1]
    client = scope.get("client")
    if client:
        attributes[semconv.CLIENT_ADDRESS] = attributes[semconv.NETWORK_PEER_ADDRESS] = client[0]
        attributes[semconv.CLIENT_PORT] = client[1]
    if error is not None:
        attributes[semconv.ERROR_TYPE] = type(error).__qualname__
        span.record_exception(error)
    elif status >= 500:
        attributes[semconv.ERROR_TYPE] = str(status)
    if type(span) is LeanSpan:
        span.set_trusted(attributes)
    else:
        span.set_attributes(attributes)
    span.update_name(semconv.span_name(method, route))
    if status >= 500 or error is not None:
        span.set_status(Status(StatusCode.ERROR))
    span.end(end_time)


def add_probes(app: FastAPI, model_info: ModelInfo) -> None:
    """GET and HEAD /healthz (the process answers) and /readyz (the model is loaded), naming the version."""
    body = {"model": model_info.name, "model_version": model_info.version}

    async def healthz():
        return {"status": "ok", **body}

    async def readyz():
        return {"status": "ready", **body}

    # One route per method: FastAPI names an operation after a route's first method, so a shared
    # route would give GET and HEAD the same operation id in the OpenAPI document.
    for path, endpoint in (("/healthz", healthz), ("/readyz", readyz)):
        app.add_api_route(path, endpoint, methods=["GET"], tags=["probes"])
        app.add_api_route(path, endpoint, methods=["HEAD"], tags=["probes"], operation_id=f"{endpoint.__name__}_head")


def _metrics_endpoint(registry: CollectorRegistry):
    async def metrics(request: Request) -> Response:
        encoder, content_type = choose_encoder(request.headers.get("accept"))
        if request.method == "HEAD":  # a reachability check: no exposition rendered
            return Response(media_type=content_type)
        return Response(encoder(registry), media_type=content_type)

    return metrics


def instrument(
    app: FastAPI,
    model_info: ModelInfo,
    *,
    service_name: str | None = None,
    service_version: str | None = None,
    settings: Settings | None = None,
    registry: CollectorRegistry | None = None,
    tracer_provider: trace.TracerProvider | None = None,
    span_exporter: SpanExporter | None = None,
    log_stream=None,
    configure_logging: bool = True,
    protect: bool = False,
    body_limits: dict[str, int] | None = None,
) -> Telemetry | NullTelemetry:
    """Instrument `app` serving `model_info` with telemetry only. Returns the Telemetry the endpoints use.

    Adds GET/HEAD /healthz and /readyz, GET/HEAD /metrics (OpenMetrics with trace exemplars when
    asked), a server span per request, one JSON access log line per request carrying trace_id/span_id,
    and JSON 4xx errors counted by reason.

    - Traces: `tracer_provider`, else the global one the application set, else one mlobs makes and
      sets globally (exporting by OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set). With
      `span_exporter` (tests), a provider of this app's own exporting there.
    - Metrics: on `registry`, else prometheus_client's REGISTRY; served on /metrics, and sent by
      OTLP too when OTEL_METRICS_EXPORTER names otlp. Logs by OTLP when OTEL_LOGS_EXPORTER does.
    - service.name: `service_name`, OTEL_SERVICE_NAME, else the model's name; service.version:
      `service_version`, else the model version (OTEL_RESOURCE_ATTRIBUTES wins over the defaults).
    - `protect=True` also calls mlobs.protect.protect(app, settings, telemetry, body_limits=...).
    """
    settings = settings or get_settings()
    earlier = getattr(app.state, "telemetry", None)
    if earlier is not None:
        raise RuntimeError(
            f"this app is already instrumented (model {getattr(earlier, 'model', model_info).name}): a second "
            "instrument() would count, trace and log every request once more. One app serves one model: "
            "instrument one FastAPI app per model and mount each on the main app (app.mount('/churn', churn_app)); "
            "they share the process's service name.")
    if app.middleware_stack is not None:  # as app.add_middleware says it
        raise RuntimeError("Cannot add middleware after an application has started: call instrument() "
                           "before the app serves (at import, not in its lifespan)")
    add_probes(app, model_info)
    users_handlers = _users_exception_handlers(app)
    # Reading the body of a client that left: no traceback, no 500 (see TelemetryMiddleware).
    app.add_exception_handler(ClientDisconnect, _client_left)
    if not settings.telemetry_enabled:
        install_handlers(app, None)
        install_server_error_handler(app)
        _keep_users_handlers(app, users_handlers)
        app.state.telemetry = NullTelemetry(settings)
        return app.state.telemetry
    explicit = {k: v for k, v in (("service.name", service_name), ("service.version", service_version)) if v}
    resource = service_resource(settings.service_name or model_info.name,
                                settings.service_version or model_info.version, settings.environment,
                                model_info, explicit)
    registry = registry if registry is not None else REGISTRY
    telemetry, resource = _telemetry(model_info, settings, registry, resource, explicit, tracer_provider,
                                     span_exporter, log_stream)
    service = telemetry.service
    if configure_logging:
        install(telemetry.log, settings.log_level)
    if settings.access_log:
        # mlobs writes the access line; the server's own would be a second one per request.
        quiet_server_access_log()
    _hand_over_fastapi_http_telemetry(app)
    from mlobs import otlp

    otlp.start_exporters(telemetry, resource)
    app.state.telemetry = telemetry
    _outermost(app, TelemetryMiddleware, telemetry=telemetry, router=app.router)
    app.add_api_route("/metrics", _metrics_endpoint(registry), methods=["GET", "HEAD"], include_in_schema=False)
    install_handlers(app, telemetry.metrics)
    install_server_error_handler(app)
    _keep_users_handlers(app, users_handlers)
    around_lifespan(app, startup=quiet_server_access_log if settings.access_log else None,
                    shutdown=telemetry.shutdown)
    _shutdown_at_exit(telemetry)
    if protect:
        from mlobs.protect import protect as add_protection

        # Inside the telemetry middleware, so refusals (401, 413, 429) are measured, traced and logged.
        add_protection(app, settings, telemetry, body_limits=body_limits)
    log = logging.getLogger("mlobs")
    log.info("instrumented %s model %s version %s", service, model_info.name, model_info.version)
    for problem in otlp_config_problems():
        log.warning(problem)
    workers = uvicorn_workers()
    if workers > 1:
        log.warning("this process is one of %d uvicorn workers on one port: each /metrics scrape reaches one of "
                    "them and shows its requests only; run one worker per process and scrape each "
                    "(docs/instrument.md, 'Several worker processes')", workers)
    return telemetry


async def _client_left(request: Request, exc: ClientDisconnect) -> Response:
    return Response(status_code=semconv.CLIENT_CLOSED)


def _shutdown_at_exit(telemetry: Telemetry) -> None:
    """The last spans, metrics and log lines still leave if the app's shutdown never ran."""
    ref, pid = weakref.ref(telemetry), os.getpid()

    def at_exit() -> None:
        alive = ref()
        if alive is not None and os.getpid() == pid:  # a forked child holds a copy of the parent's queues
            alive.shutdown()

    atexit.register(at_exit)


def _users_exception_handlers(app: FastAPI) -> dict:
    """Handlers the application registered before instrument(): they stay in charge of their
    exceptions (FastAPI's own defaults give way to mlobs's JSON errors)."""
    defaults = (http_exception_handler, request_validation_exception_handler,
                websocket_request_validation_exception_handler)
    return {key: handler for key, handler in app.exception_handlers.items() if handler not in defaults}


def _keep_users_handlers(app: FastAPI, users: dict) -> None:
    app.exception_handlers.update(users)
    if 500 in users and Exception not in users:
        # FastAPI gives unhandled errors to whichever of 500 and Exception comes last: the user's.
        del app.exception_handlers[Exception]


def _outermost(app: FastAPI, middleware, **options) -> None:
    """Wrap the whole middleware stack, outside Starlette's ServerErrorMiddleware: the response the
    exception handler sends for an unhandled error is the one measured, and the handler's log line
    is written inside the request's span, so it carries the trace id."""
    build = app.build_middleware_stack

    def build_middleware_stack():
        return middleware(build(), **options)

    app.build_middleware_stack = build_middleware_stack


def _hand_over_fastapi_http_telemetry(app: FastAPI) -> None:
    """FastAPI's native OpenTelemetry (0.16x) starts its own server span, operation spans and HTTP
    metrics once any global provider is set, as mlobs's is: a second server span per request and
    about four spans' CPU. mlobs records the server span and the duration metric for this app."""
    config = getattr(app, "_telemetry", None)
    if isinstance(config, dict):
        config["tracing"] = False
        config["metrics"] = False


def _telemetry(model_info, settings, registry, resource, explicit, tracer_provider, span_exporter, log_stream):
    telemetry: Telemetry | None = None

    def on_dropped(signal: str, n: int) -> None:
        if telemetry is not None:
            telemetry.metrics.dropped(signal).inc(n)

    owns = made = False
    if tracer_provider is None and span_exporter is not None:
        tracer_provider = create_tracer_provider(resource, span_exporter, on_dropped, settings.telemetry_shutdown_s)
        owns = made = True
    elif tracer_provider is None:
        def make():
            wanted = settings.otlp_endpoint and traces_exporter_wanted()
            return create_tracer_provider(resource, otlp_exporter() if wanted else None, on_dropped,
                                          settings.telemetry_shutdown_s)

        tracer_provider, made = joined_tracer_provider(make)
    if not made:  # the application's provider, or one mlobs set globally for another app
        resource = _joined_resource(resource, tracer_provider, explicit)
    telemetry = Telemetry(resource.attributes["service.name"], model_info, settings, registry, tracer_provider,
                          owns_provider=owns, made_provider=made, log_stream=log_stream)
    return telemetry, resource


def _joined_resource(resource: Resource, provider, explicit: dict) -> Resource:
    """On a provider made before this app (the application's, or mlobs's for an app instrumented
    earlier), spans carry its resource's service.name: metrics and log lines take it too, so all
    three join (unless it is the SDK's `unknown_service` placeholder, or service_name= was given)."""
    theirs = getattr(getattr(provider, "resource", None), "attributes", {}).get("service.name")
    ours = resource.attributes["service.name"]
    if not isinstance(theirs, str) or theirs.startswith("unknown_service") or theirs == ours:
        return resource
    if "service.name" in explicit:
        logging.getLogger("mlobs").warning(
            "service_name %r names this service's metrics and logs, but the application's TracerProvider "
            "names its spans %r: they will not join on service name", ours, theirs)
        return resource
    logging.getLogger("mlobs").info(
        "service.name %r of the application's TracerProvider names this service's metrics and logs (not %r)",
        theirs, ours)
    return resource.merge(Resource({"service.name": theirs}))
