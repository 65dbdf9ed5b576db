"""OpenTelemetry tracing for a model service: batch export off the request path, drops counted."""

from __future__ import annotations

from typing import Callable, Sequence

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

import mlobs
from mlobs.model_info import ModelInfo

MODEL_NAME_ATTR = "ml.model.name"
MODEL_VERSION_ATTR = "ml.model.version"


class _CountingExporter(SpanExporter):
    """Counts what leaves the queue, so the processor knows what is still pending."""

    def __init__(self, exporter: SpanExporter, on_failed: Callable[[int], None]):
        self._exporter = exporter
        self._on_failed = on_failed
        self.handed_over = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.handed_over += len(spans)
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

    def __init__(self, exporter: SpanExporter, on_dropped: Callable[[str, int], None], max_queue_size: int = 2048):
        self._exporter = _CountingExporter(exporter, lambda n: on_dropped("spans_export_failed", n))
        self._batch = BatchSpanProcessor(
            self._exporter, max_queue_size=max_queue_size, max_export_batch_size=min(512, max_queue_size)
        )
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
        self._batch.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._batch.force_flush(timeout_millis)


def create_tracer_provider(
    service_name: str,
    environment: str,
    model: ModelInfo,
    exporter: SpanExporter | None,
    on_dropped: Callable[[str, int], None],
) -> TracerProvider:
    """A provider of its own (not the global one), so several apps and tests don't collide.

    The sampler comes from OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG (default: always on).
    """
    resource = Resource.create(
        {
            "service.name": service_name,
            "service.version": mlobs.__version__,
            "deployment.environment": environment,
            "deployment.environment.name": environment,
            MODEL_NAME_ATTR: model.name,
            MODEL_VERSION_ATTR: model.version,
        }
    )
    provider = TracerProvider(resource=resource)
    if exporter is not None:
        provider.add_span_processor(BoundedSpanProcessor(exporter, on_dropped))
    return provider


def otlp_exporter() -> SpanExporter:
    """OTLP/HTTP; endpoint, headers and timeout come from the standard OTEL_EXPORTER_OTLP_* variables."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()
