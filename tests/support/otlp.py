"""An OTLP/HTTP receiver on loopback that keeps what it is sent (protobuf, as the SDK exporters send):
spans on /v1/traces, metrics on /v1/metrics, log records on /v1/logs."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest, ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


class OtlpSink:
    def __init__(self):
        self.spans: list = []
        self.resources: list[dict] = []
        self.metrics: list = []  # opentelemetry.proto Metric messages, in the order received
        self.metric_resources: list[dict] = []
        self.logs: list = []  # LogRecord messages
        self.log_resources: list[dict] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if self.path.endswith("/v1/metrics"):
                    payload = sink._metrics(body)
                elif self.path.endswith("/v1/logs"):
                    payload = sink._logs(body)
                else:
                    payload = sink._traces(body)
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _traces(self, body: bytes) -> bytes:
        for resource_spans in ExportTraceServiceRequest.FromString(body).resource_spans:
            self.resources.append(_attributes(resource_spans.resource.attributes))
            for scope_spans in resource_spans.scope_spans:
                self.spans.extend(scope_spans.spans)
        return ExportTraceServiceResponse().SerializeToString()

    def _metrics(self, body: bytes) -> bytes:
        for resource_metrics in ExportMetricsServiceRequest.FromString(body).resource_metrics:
            self.metric_resources.append(_attributes(resource_metrics.resource.attributes))
            for scope_metrics in resource_metrics.scope_metrics:
                self.metrics.extend(scope_metrics.metrics)
        return ExportMetricsServiceResponse().SerializeToString()

    def _logs(self, body: bytes) -> bytes:
        for resource_logs in ExportLogsServiceRequest.FromString(body).resource_logs:
            self.log_resources.append(_attributes(resource_logs.resource.attributes))
            for scope_logs in resource_logs.scope_logs:
                self.logs.extend(scope_logs.log_records)
        return ExportLogsServiceResponse().SerializeToString()

    def trace_ids(self) -> set[str]:
        return {span.trace_id.hex() for span in self.spans}

    def __enter__(self) -> "OtlpSink":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def _attributes(attributes) -> dict:
    return {a.key: getattr(a.value, a.value.WhichOneof("value")) if a.value.WhichOneof("value") else None
            for a in attributes}


def attributes(message) -> dict:
    """The attributes of a span, data point or log record as a dict."""
    return _attributes(message.attributes)
