"""OpenTelemetry tracing for a model service: batch export off the request path, drops counted."""

from __future__ import annotations

import os
from typing import Callable, Sequence
from urllib.parse import urlsplit

from opentelemetry import trace
from opentelemetry.sdk.resources import OTELResourceDetector, Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from mlobs.deadline import SHUTDOWN_S, finished_within
from mlobs.model_info import ModelInfo

MODEL_NAME_ATTR = "ml.model.name"
MODEL_VERSION_ATTR = "ml.model.version"


class _CountingExporter(SpanExporter):
    """Counts what leaves the queue, so the processor knows what is still pending."""

    def __init__(self, exporter: SpanExporter, on_failed: Callable[[int], None]):
        self._exporter = exporter
        self._on_failed = on_failed
        self.handed_over = 0
        self.stopped = False  # shutting down and out of time: what is left is dropped, counted

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.handed_over += len(spans)
        if self.stopped:
            self._on_failed(len(spans))
            return SpanExportResult.FAILURE
        try:
            result = self._exporter.export(spans)
        except Exception:
            result = SpanExportResult.FAILURE
        if result is not SpanExportResult.SUCCESS:
            self._on_failed(len(spans))
        return result

    def shutdown(self) -> None:
        self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._exporter.force_flush(timeout_millis)


class BoundedSpanProcessor(SpanProcessor):
    """A BatchSpanProcessor that drops (and counts) instead of queueing past its bound."""

    def __init__(self, exporter: SpanExporter, on_dropped: Callable[[str, int], None],
                 max_queue_size: int | None = None, shutdown_s: float = SHUTDOWN_S):
        self._shutdown_s = shutdown_s
        # The SDK's variables set the bounds, as they would the SDK's own batch processor.
        if max_queue_size is None:
            max_queue_size = env_positive("OTEL_BSP_MAX_QUEUE_SIZE", 2048)
        batch = min(env_positive("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512), max_queue_size)
        self._exporter = _CountingExporter(exporter, lambda n: on_dropped("spans_export_failed", n))
        self._batch = BatchSpanProcessor(self._exporter, max_queue_size=max_queue_size, max_export_batch_size=batch)
        self._on_dropped = on_dropped
        self._max_queue_size = max_queue_size
        self._accepted = 0

    def on_start(self, span, parent_context=None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        if self._accepted - self._exporter.handed_over >= self._max_queue_size:
            self._on_dropped("spans_queue_full", 1)
            return
        self._accepted += 1
        self._batch.on_end(span)

    def shutdown(self) -> None:
        if not finished_within(self._shutdown_s, self._batch.shutdown):
            self._exporter.stopped = True

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        # The SDK's batch processor does not bound a flush by its timeout; this does.
        return finished_within(timeout_millis / 1000, lambda: self._batch.force_flush(timeout_millis))


def env_positive(name: str, default: int, environ=os.environ) -> int:
    """A positive integer from the environment; the default when unset or not one (as the SDK does)."""
    try:
        value = int(environ.get(name, default))
    except ValueError:
        return default
    return value if value > 0 else default


def build_resource(defaults: dict) -> Resource:
    """mlobs's defaults, overridden by OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME (the SDK's
    precedence for configuration a deployment sets over values a library assumes)."""
    return Resource.create(defaults).merge(OTELResourceDetector().detect())


def service_resource(service_name: str, service_version: str, environment: str, model: ModelInfo,
                     explicit: dict | None = None) -> Resource:
    """The resource of one model service: `explicit` (arguments in code) wins over the environment,
    which wins over the defaults (the model's name and version, MLOBS_ENVIRONMENT)."""
    resource = build_resource({
        "service.name": service_name,
        "service.version": service_version,
        "deployment.environment.name": environment,
        MODEL_NAME_ATTR: model.name,
        MODEL_VERSION_ATTR: model.version,
    })
    return resource.merge(Resource(explicit)) if explicit else resource


def create_tracer_provider(resource: Resource, exporter: SpanExporter | None,
                           on_dropped: Callable[[str, int], None], shutdown_s: float = SHUTDOWN_S) -> TracerProvider:
    """A provider exporting through a bounded batch processor (drops counted) when given an exporter.

    The sampler comes from OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG (default: parent-based, always on).
    """
    provider = TracerProvider(resource=resource)
    if exporter is not None:
        provider.add_span_processor(BoundedSpanProcessor(exporter, on_dropped, shutdown_s=shutdown_s))
    return provider


def joined_tracer_provider(make: Callable[[], TracerProvider]) -> tuple[trace.TracerProvider, bool]:
    """The application's global TracerProvider if it set one, else `make()` set as the global one.
    Returns (provider, created)."""
    current = trace.get_tracer_provider()
    if not isinstance(current, trace.ProxyTracerProvider):
        return current, False
    provider = make()
    trace.set_tracer_provider(provider)
    # Another thread may have won the race: use whichever is global now.
    current = trace.get_tracer_provider()
    return current, current is provider


def has_span_processors(provider) -> Callable[[], bool]:
    """A cheap check, made per request, whether anything would receive a span from `provider`.
    Providers that do not show their processors are assumed to have some."""
    if getattr(provider, "_disabled", False):  # OTEL_SDK_DISABLED=true
        return lambda: False
    multi = getattr(provider, "_active_span_processor", None)
    if multi is None or not hasattr(multi, "_span_processors"):
        return lambda: True
    return lambda: bool(multi._span_processors)


def traces_exporter_wanted(environ=os.environ) -> bool:
    """OTEL_TRACES_EXPORTER: "otlp" (the default, used once an endpoint is set) or "none"."""
    return "none" not in environ.get("OTEL_TRACES_EXPORTER", "otlp").lower().split(",")


_SIGNALS = ("", "_TRACES", "_METRICS", "_LOGS")


def otlp_config_problems(environ=os.environ) -> list[str]:
    """What in the OTEL_EXPORTER_OTLP_* variables would make every export fail, each said once at start
    rather than as an export error per batch: mlobs sends OTLP over HTTP (protobuf) to http(s) URLs."""
    problems = []
    for signal in _SIGNALS:
        name = f"OTEL_EXPORTER_OTLP{signal}_ENDPOINT"
        value = environ.get(name, "").strip()
        if value:
            url = urlsplit(value)
            if url.scheme not in ("http", "https") or not url.hostname:
                # Not the value: an endpoint may carry credentials.
                problems.append(f"{name} is not an http:// or https:// URL with a host: nothing will reach it "
                                "(e.g. http://collector:4318)")
        name = f"OTEL_EXPORTER_OTLP{signal}_PROTOCOL"
        value = environ.get(name, "").strip()
        if value and value != "http/protobuf":
            problems.append(f"{name}={value!r}: mlobs sends OTLP as http/protobuf (port 4318), not {value}")
    return problems


def otlp_exporter() -> SpanExporter:
    """OTLP/HTTP; endpoint, headers and timeout come from the standard OTEL_EXPORTER_OTLP_* variables.
    Spans are encoded by mlobs.otlp_spans (about a quarter of the SDK encoder's CPU)."""
    from mlobs.otlp_spans import LeanOtlpSpanExporter

    return LeanOtlpSpanExporter()
