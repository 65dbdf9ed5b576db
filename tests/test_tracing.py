from __future__ import annotations

import threading

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from mlobs.tracing import BoundedSpanProcessor


class StuckExporter(SpanExporter):
    def __init__(self):
        self.release = threading.Event()

    def export(self, spans):
        self.release.wait(5)
        return SpanExportResult.SUCCESS


class FailingExporter(SpanExporter):
    def export(self, spans):
        raise ConnectionError("collector is down")


def provider_with(exporter, dropped, max_queue_size=8):
    provider = TracerProvider()
    provider.add_span_processor(
        BoundedSpanProcessor(exporter, lambda signal, n: dropped.append((signal, n)), max_queue_size=max_queue_size)
    )
    return provider


def test_spans_past_the_queue_bound_are_dropped_and_counted():
    exporter, dropped = StuckExporter(), []
    provider = provider_with(exporter, dropped)
    tracer = provider.get_tracer("t")
    for _ in range(100):
        tracer.start_span("s").end()
    exporter.release.set()
    provider.shutdown()
    queue_full = sum(n for signal, n in dropped if signal == "spans_queue_full")
    assert 100 - 16 <= queue_full <= 100 - 8  # one batch of 8 may sit in the stuck exporter


def test_failed_exports_are_counted_as_dropped():
    dropped = []
    provider = provider_with(FailingExporter(), dropped, max_queue_size=64)
    tracer = provider.get_tracer("t")
    for _ in range(10):
        tracer.start_span("s").end()
    provider.force_flush()
    provider.shutdown()
    assert sum(n for signal, n in dropped if signal == "spans_export_failed") == 10
