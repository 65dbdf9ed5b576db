"""instrument() inside an application's own OpenTelemetry setup and environment: what reaches
/metrics, the JSON log and an OTLP receiver, seen from outside the app."""

from __future__ import annotations

import io
import logging
import threading
import time

import orjson
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from mlobs import ModelInfo, instrument
from support.otlp import OtlpSink

CHURN = ModelInfo("churn", "7", "d", "c")


@pytest.fixture
def root_logger():
    """instrument() routes the root logger through its JSON writer: put the test process's back after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


def test_the_applications_tracer_provider_names_the_service_of_its_metrics_and_logs(settings):
    spans = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "churn-api"}))
    provider.add_span_processor(SimpleSpanProcessor(spans))
    registry, stream = CollectorRegistry(), io.BytesIO()
    app = FastAPI()
    telemetry = instrument(app, CHURN, settings=settings, tracer_provider=provider, registry=registry,
                           log_stream=stream, configure_logging=False)

    @app.get("/score")
    async def score():
        return {}

    with TestClient(app) as client:
        client.get("/score")
    telemetry.flush()
    [span] = spans.get_finished_spans()
    assert span.resource.attributes["service.name"] == "churn-api"
    labels = {"service": "churn-api", "model": "churn", "model_version": "7", "method": "GET", "route": "/score",
              "status": "200"}
    assert registry.get_sample_value("mlobs_http_request_duration_seconds_count", labels) == 1
    [line] = [orjson.loads(line) for line in stream.getvalue().splitlines() if b'"request"' in line]
    assert line["service"] == "churn-api" and line["trace_id"] == format(span.context.trace_id, "032x")


def test_instrumenting_an_app_twice_is_refused_before_every_request_counts_double(settings):
    app = FastAPI()
    instrument(app, CHURN, settings=settings, registry=CollectorRegistry(), configure_logging=False)
    with pytest.raises(RuntimeError, match="already instrumented.*one FastAPI app per model"):
        instrument(app, ModelInfo("upsell", "1", "d", "c"), settings=settings, registry=CollectorRegistry(),
                   configure_logging=False)


def test_with_the_sdk_disabled_no_metric_or_log_leaves_by_otlp(settings, monkeypatch):
    with OtlpSink() as sink:
        for name, value in {"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": sink.url,
                            "OTEL_METRICS_EXPORTER": "otlp", "OTEL_LOGS_EXPORTER": "otlp",
                            "OTEL_METRIC_EXPORT_INTERVAL": "20", "OTEL_BLRP_SCHEDULE_DELAY": "20"}.items():
            monkeypatch.setenv(name, value)
        app = FastAPI()
        telemetry = instrument(app, CHURN, settings=settings.model_copy(update={"metrics_exporter": "otlp",
                                                                                "logs_exporter": "otlp"}),
                               registry=CollectorRegistry(), log_stream=io.BytesIO(), configure_logging=False)
        with TestClient(app) as client:
            assert client.get("/nope").status_code == 404
            time.sleep(0.2)
        telemetry.flush()
        assert (sink.metrics, sink.logs, sink.spans) == ([], [], [])


def test_two_models_in_one_process_are_two_mounted_apps_counted_apart_under_one_service(settings):
    spans = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "scoring"}))
    provider.add_span_processor(SimpleSpanProcessor(spans))
    registry, main = CollectorRegistry(), FastAPI()
    for model in (CHURN, ModelInfo("upsell", "3", "d", "c")):
        sub = FastAPI()
        instrument(sub, model, settings=settings, tracer_provider=provider, registry=registry,
                   log_stream=io.BytesIO(), configure_logging=False)
        sub.add_api_route("/score", lambda: {}, methods=["POST"])
        main.mount(f"/{model.name}", sub)
    with TestClient(main) as client:
        for path in ("/churn/score", "/upsell/score", "/upsell/score"):
            assert client.post(path).status_code == 200
        assert client.get("/churn/metrics").status_code == 200
    counts = {s.labels["model"]: s.value for family in registry.collect() for s in family.samples
              if s.name == "mlobs_http_request_duration_seconds_count"}
    services = {s.labels["service"] for family in registry.collect() for s in family.samples
                if s.name == "mlobs_http_request_duration_seconds_count"}
    assert counts == {"churn": 1, "upsell": 2} and services == {"scoring"}
    assert [s.name for s in spans.get_finished_spans()] == ["POST /score"] * 3


@pytest.mark.parametrize("variable, value, said", [
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318", "not an http:// or https:// URL"),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "ingest:s3cret-token@collector:4318", "not an http:// or https:// URL"),
    ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "grpc://collector:4317", "not an http:// or https:// URL"),
    ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", "mlobs sends OTLP as http/protobuf"),
])
def test_an_otlp_setting_no_export_could_succeed_with_is_said_once_at_start(settings, monkeypatch, root_logger,
                                                                            variable, value, said):
    monkeypatch.setenv(variable, value)
    stream = io.BytesIO()
    app = FastAPI()
    telemetry = instrument(app, CHURN, settings=settings, registry=CollectorRegistry(), log_stream=stream,
                           span_exporter=InMemorySpanExporter())
    telemetry.flush()
    warnings = [orjson.loads(line) for line in stream.getvalue().splitlines() if b'"WARNING"' in line]
    assert [w["message"] for w in warnings if said in w["message"] and variable in w["message"]]
    assert b"s3cret" not in stream.getvalue()  # an endpoint may carry credentials


class _StuckExporter(InMemorySpanExporter):
    """A collector that takes the first batch and never returns."""

    def __init__(self):
        super().__init__()
        self.release = threading.Event()

    def export(self, spans):
        self.release.wait(10)
        return super().export(spans)


def test_the_sdks_span_queue_size_variable_bounds_the_queue_of_spans_waiting_for_a_collector(settings, monkeypatch):
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "4")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "10")
    stuck, registry = _StuckExporter(), CollectorRegistry()
    app = FastAPI()
    telemetry = instrument(app, CHURN, settings=settings, span_exporter=stuck, registry=registry,
                           log_stream=io.BytesIO(), configure_logging=False)
    client = TestClient(app)  # no lifespan: the shutdown would wait on the stuck collector
    try:
        for _ in range(40):
            assert client.get("/nope").status_code == 404
        metrics = client.get("/metrics").text
    finally:
        stuck.release.set()
        telemetry.flush()
    dropped = sum(s.value for family in text_string_to_metric_families(metrics) for s in family.samples
                  if s.name == "mlobs_telemetry_dropped_total" and s.labels["signal"] == "spans_queue_full")
    assert dropped >= 40 - 4 - 4  # at most one queue and one batch in the collector's hands


@pytest.mark.parametrize("classes, kept", [(("1", "churn"), {"1", "churn", "_other"}), ((), None)])
def test_predictions_outside_the_models_classes_add_no_series_per_value(settings, classes, kept):
    registry = CollectorRegistry()
    app = FastAPI()
    telemetry = instrument(app, ModelInfo("churn", "7", "d", "c", classes=classes), settings=settings,
                           registry=registry, log_stream=io.BytesIO(), configure_logging=False)

    @app.post("/label/{text}")
    async def label(text: str):  # a model whose output echoes its input, e.g. an open-vocabulary tagger
        telemetry.record_predictions(["churn", text, 1], [0.9, 0.5, 0.7])  # 1: a class named by the model's int
        return {}

    with TestClient(app) as client:
        for i in range(300):
            assert client.post(f"/label/word{i}").status_code == 200
        metrics = client.get("/metrics").text
    labels = {s.labels["class"]: s.value for family in text_string_to_metric_families(metrics)
              for s in family.samples if s.name == "mlobs_predictions_total"}
    assert sum(labels.values()) == 900
    if kept is not None:
        assert set(labels) == kept and labels["_other"] == 300 and labels["1"] == 300
    else:
        assert len(labels) == 101 and labels["_other"] == 300 - 98 and labels["1"] == 300


def test_an_error_handler_registered_for_status_500_before_instrument_answers_unhandled_errors(settings):
    app = FastAPI()

    @app.exception_handler(500)
    async def their_500(request, exc):
        return JSONResponse({"sorry": "try again"}, status_code=500)

    instrument(app, CHURN, settings=settings, registry=CollectorRegistry(), log_stream=io.BytesIO(),
               configure_logging=False)

    @app.get("/explode")
    async def explode():
        raise ValueError("the model file is corrupt")

    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/explode")
    assert answer.status_code == 500 and answer.json() == {"sorry": "try again"}


def test_instrumenting_an_app_that_already_serves_is_refused_rather_than_silently_measuring_nothing(settings):
    app = FastAPI()
    with TestClient(app) as client:
        client.get("/")
        with pytest.raises(RuntimeError, match="after an application has started"):
            instrument(app, CHURN, settings=settings, registry=CollectorRegistry(), log_stream=io.BytesIO(),
                       configure_logging=False)
