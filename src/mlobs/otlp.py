"""Metrics and logs by OTLP/HTTP when OTEL_METRICS_EXPORTER / OTEL_LOGS_EXPORTER name `otlp`.

Both run on a thread of their own, off the request path, with a bound: metrics are one snapshot of
the Prometheus registry per interval (nothing queues behind a slow collector); log lines wait in a
bounded queue. What cannot leave is dropped and counted in mlobs_telemetry_dropped_total, as spans are.
Endpoints, headers and timeouts come from the standard OTEL_EXPORTER_OTLP_* variables (read by the
SDK's exporters; mlobs.otlp_deadline makes the timeout bound the whole answer); intervals from
OTEL_METRIC_EXPORT_INTERVAL and OTEL_BLRP_SCHEDULE_DELAY.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import datetime

import orjson
from opentelemetry import metrics as otel_metrics
from opentelemetry.sdk.resources import Resource

from mlobs import semconv
from mlobs.deadline import SHUTDOWN_S
from mlobs.tracing import env_positive
from mlobs.line_queue import LineQueue
from mlobs.catalog import HTTP_REQUEST_DURATION, SERVICE

log = logging.getLogger("mlobs.otlp")

# The duration histogram leaves by OTLP under its semantic-convention name and attributes.
_HTTP_ATTRIBUTES = {"method": semconv.HTTP_REQUEST_METHOD, "route": semconv.HTTP_ROUTE,
                    "status": semconv.HTTP_RESPONSE_STATUS_CODE, "model": "ml.model.name",
                    "model_version": "ml.model.version"}


def wanted(setting: str) -> bool:
    return "otlp" in [part.strip().lower() for part in setting.split(",")]


def _env_ms(name: str, default: int) -> float:
    try:
        return max(1, int(os.environ.get(name, default))) / 1000
    except ValueError:
        return default / 1000


def sdk_disabled(environ=os.environ) -> bool:
    """OTEL_SDK_DISABLED=true turns every signal's export off, as it does the SDK's own providers."""
    return environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"


def start_exporters(telemetry, resource: Resource) -> None:
    settings = telemetry.settings
    if sdk_disabled():
        return
    if wanted(settings.metrics_exporter):
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        from mlobs.otlp_deadline import session

        join_meter_provider(resource)
        exporter = OTLPMetricExporter(session=session("METRICS"))
        telemetry.exporters.append(RegistryExporter(
            telemetry.registry, resource, exporter, telemetry.metrics.dropped("metrics_export_failed").inc,
            interval_s=_env_ms("OTEL_METRIC_EXPORT_INTERVAL", 60_000)))
    if wanted(settings.logs_exporter):
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

        from mlobs.otlp_deadline import session

        sink = LogExporter(resource, OTLPLogExporter(session=session("LOGS")), telemetry.metrics.dropped,
                           interval_s=_env_ms("OTEL_BLRP_SCHEDULE_DELAY", 1_000),
                           max_queue=env_positive("OTEL_BLRP_MAX_QUEUE_SIZE", 2048),
                           batch=env_positive("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", 512))
        telemetry.log.tee(sink.offer)
        telemetry.exporters.append(sink)


def join_meter_provider(resource: Resource) -> None:
    """Without a global MeterProvider, set one exporting by OTLP, so metrics the application makes
    with the OpenTelemetry API leave beside mlobs's. The application's own, if set, is left alone."""
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    from mlobs.otlp_deadline import session

    if type(otel_metrics.get_meter_provider()).__name__ != "_ProxyMeterProvider":
        return
    otel_metrics.set_meter_provider(MeterProvider(resource=resource,
                                                  metric_readers=[PeriodicExportingMetricReader(
                                                      OTLPMetricExporter(session=session("METRICS")))]))


class _Worker:
    """A daemon thread calling `self.run_once()` every `interval_s`, and once more at shutdown."""

    def __init__(self, name: str, interval_s: float):
        self._interval = interval_s
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.flush()
        self.flush()  # the last one, on this thread: shutdown waits for it a bounded time

    def flush(self) -> None:
        with self._lock:
            try:
                self.run_once()
            except Exception:
                log.exception("OTLP export failed")

    def shutdown(self, timeout: float = SHUTDOWN_S) -> None:
        self._stop.set()
        self._thread.join(timeout)
        # Past the timeout (a collector that never answers) the exporter refuses what is left,
        # counted as failed, and the export in flight ends at OTEL_EXPORTER_OTLP_TIMEOUT on its own
        # (a whole-answer deadline: mlobs.otlp_deadline).
        self.exporter.shutdown()


class RegistryExporter(_Worker):
    """Every interval, one snapshot of a prometheus_client registry (mlobs's metrics and the
    application's own on it) sent as OTLP cumulative sums, gauges and histograms."""

    def __init__(self, registry, resource: Resource, exporter, on_failed, interval_s: float = 60.0):
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope

        self.registry = registry
        self.resource = resource
        self.exporter = exporter
        self._on_failed = on_failed
        self._scope = InstrumentationScope("mlobs")
        self._start_ns = time.time_ns()
        super().__init__("mlobs-otlp-metrics", interval_s)

    def run_once(self) -> None:
        from opentelemetry.sdk.metrics.export import MetricExportResult

        data, points = self.snapshot()
        if not points:
            return
        try:
            result = self.exporter.export(data)
        except Exception:
            result = None
        if result is not MetricExportResult.SUCCESS:
            self._on_failed(points)

    def snapshot(self):
        """(MetricsData, number of data points)."""
        from opentelemetry.sdk.metrics.export import MetricsData, ResourceMetrics, ScopeMetrics

        now = time.time_ns()
        converted, points = [], 0
        for family in self.registry.collect():
            metric = _convert(family, self._start_ns, now)
            if metric is not None:
                converted.append(metric)
                points += len(metric.data.data_points)
        data = MetricsData([ResourceMetrics(self.resource, [ScopeMetrics(self._scope, converted, "")], "")])
        return data, points


def _attributes(labels: dict, renames: dict | None) -> dict:
    if renames is None:
        return dict(labels)
    out = {}
    for key, value in labels.items():
        if key == SERVICE or (key == "route" and value == semconv.UNMATCHED_ROUTE):
            continue  # service.name is the resource's; an unmatched request has no http.route
        name = renames.get(key, key)
        out[name] = int(value) if name == semconv.HTTP_RESPONSE_STATUS_CODE and value.isdigit() else value
    return out


def _convert(family, start_ns: int, now: int):
    from opentelemetry.sdk.metrics.export import (
        AggregationTemporality,
        Gauge,
        Histogram,
        HistogramDataPoint,
        Metric,
        NumberDataPoint,
        Sum,
    )

    cumulative = AggregationTemporality.CUMULATIVE
    name, renames, unit = family.name, None, family.unit or None
    if name == HTTP_REQUEST_DURATION.name:
        name, renames, unit = semconv.HTTP_SERVER_REQUEST_DURATION, _HTTP_ATTRIBUTES, "s"
    if family.type in ("counter", "gauge", "info", "unknown"):
        points = []
        for s in family.samples:
            if s.name.endswith("_created"):
                continue
            points.append(NumberDataPoint(_attributes(s.labels, renames), start_ns, now, s.value))
        if not points:
            return None
        data = Sum(points, cumulative, True) if family.type == "counter" else Gauge(points)
        return Metric(name, family.documentation, unit, data)
    if family.type == "histogram":
        series: dict[tuple, dict] = {}
        for s in family.samples:
            labels = {k: v for k, v in s.labels.items() if k != "le"}
            entry = series.setdefault(tuple(sorted(labels.items())), {"labels": labels, "buckets": []})
            if s.name.endswith("_bucket"):
                entry["buckets"].append((float(s.labels["le"]), s.value))
            elif s.name.endswith("_count"):
                entry["count"] = int(s.value)
            elif s.name.endswith("_sum"):
                entry["sum"] = s.value
        points = []
        for entry in series.values():
            buckets = sorted(entry["buckets"])
            bounds = [le for le, _ in buckets if le != float("inf")]
            counts, previous = [], 0.0
            for _, cumulative_count in buckets:
                counts.append(int(cumulative_count - previous))
                previous = cumulative_count
            points.append(HistogramDataPoint(_attributes(entry["labels"], renames), start_ns, now,
                                             entry.get("count", int(previous)), entry.get("sum", 0.0), counts,
                                             bounds, None, None))
        return Metric(name, family.documentation, unit, Histogram(points, cumulative)) if points else None
    return None  # summaries and state sets: Prometheus only


class LogExporter(_Worker):
    """JSON log lines (as JsonLogWriter writes them) sent as OTLP log records in batches."""

    def __init__(self, resource: Resource, exporter, dropped, *, max_queue: int = 2048, batch: int = 512,
                 interval_s: float = 1.0, max_queue_bytes: int = 16 * 1024 * 1024):
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope

        self.resource = resource
        self.exporter = exporter
        # Its own lock, not the worker's: an export in progress must not block offer.
        self._queue = LineQueue(max_queue, max_queue_bytes)
        self._batch = batch
        self._queue_full = dropped("logs_otlp_queue_full")
        self._failed = dropped("logs_export_failed")
        self._scope = InstrumentationScope("mlobs")
        super().__init__("mlobs-otlp-logs", interval_s)

    def offer(self, lines: list[bytes]) -> None:
        dropped = self._queue.put(lines)
        if dropped:
            self._queue_full.inc(dropped)

    def run_once(self) -> None:
        from opentelemetry.sdk._logs.export import LogRecordExportResult

        while self._queue:
            lines = self._queue.take(self._batch)
            records = [r for r in map(self._record, lines) if r is not None]
            try:
                result = self.exporter.export(records)
            except Exception:
                result = None
            if result is not LogRecordExportResult.SUCCESS:
                self._failed.inc(len(records))

    def _record(self, line: bytes):
        from opentelemetry._logs import LogRecord, SeverityNumber
        from opentelemetry.sdk._logs import ReadableLogRecord
        from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context

        try:
            fields = orjson.loads(line)
        except orjson.JSONDecodeError:
            return None
        level = str(fields.pop("level", "INFO"))
        message = fields.pop("message", "")
        stamp = fields.pop("timestamp", None)
        trace_id, span_id = fields.pop("trace_id", None), fields.pop("span_id", None)
        fields.pop("service", None)  # the resource's service.name
        try:
            timestamp = int(datetime.fromisoformat(stamp).timestamp() * 1e9) if stamp else time.time_ns()
        except (TypeError, ValueError):
            timestamp = time.time_ns()
        ctx = None
        if trace_id and span_id:
            ctx = set_span_in_context(NonRecordingSpan(SpanContext(int(trace_id, 16), int(span_id, 16), True,
                                                                   TraceFlags(TraceFlags.SAMPLED))))
        attributes = {k: v if isinstance(v, (str, int, float, bool)) else orjson.dumps(v).decode()
                      for k, v in fields.items() if v is not None}
        record = LogRecord(timestamp=timestamp, observed_timestamp=time.time_ns(), context=ctx,
                           severity_text=level, severity_number=_SEVERITY.get(level, SeverityNumber.INFO),
                           body=message, attributes=attributes)
        return ReadableLogRecord(record, self.resource, self._scope)


def _severities():
    from opentelemetry._logs import SeverityNumber

    return {"DEBUG": SeverityNumber.DEBUG, "INFO": SeverityNumber.INFO, "WARNING": SeverityNumber.WARN,
            "ERROR": SeverityNumber.ERROR, "CRITICAL": SeverityNumber.FATAL}


_SEVERITY = _severities()
