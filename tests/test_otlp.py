"""All three signals by OTLP when asked, against a running service; drops counted when the
collector is away; Prometheus /metrics stays on."""

from __future__ import annotations

import time

import httpx
import pytest

from mlobs.local.ports import free_port
from support.otlp import OtlpSink, attributes
from support.uvicorn_app import UvicornApp

pytestmark = [pytest.mark.integration]

OTLP_ALL = {"OTEL_METRICS_EXPORTER": "otlp", "OTEL_LOGS_EXPORTER": "otlp", "OTEL_METRIC_EXPORT_INTERVAL": "300",
            "OTEL_BLRP_SCHEDULE_DELAY": "200", "OTEL_BSP_SCHEDULE_DELAY": "200"}


def wait_for(condition, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.1)


def duration_points(sink):
    return [p for m in sink.metrics if m.name == "http.server.request.duration" for p in m.histogram.data_points]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    directory = tmp_path_factory.mktemp("otlp")
    with OtlpSink() as sink:
        env = {**OTLP_ALL, "OTEL_EXPORTER_OTLP_ENDPOINT": sink.url, "MLOBS_ARTIFACTS_DIR": str(directory)}
        with UvicornApp("support.toy_service:app", env, directory / "toy.log") as service:
            for _ in range(3):
                assert httpx.post(f"{service.url}/predict/a").status_code == 200
            wait_for(lambda: any(p.count >= 3 for p in duration_points(sink))
                     and any(l.body.string_value == "request" for l in sink.logs) and sink.spans)
            metrics_text = httpx.get(f"{service.url}/metrics").text
        yield sink, metrics_text


def test_the_request_duration_leaves_under_its_semantic_convention_name(exported):
    sink, _ = exported
    points = [p for p in duration_points(sink) if attributes(p).get("http.route") == "/predict/{kind}"]
    assert points and max(p.count for p in points) == 3
    a = attributes(points[-1])
    assert (a["http.request.method"], a["http.response.status_code"]) == ("POST", 200)
    assert a["ml.model.version"] == "v1abc" and "service" not in a
    assert list(points[-1].explicit_bounds)[:3] == [0.005, 0.01, 0.025]


def test_mlobs_metrics_leave_with_the_service_resource(exported):
    sink, _ = exported
    names = {m.name for m in sink.metrics}
    assert {"mlobs_predictions", "mlobs_inference_duration_seconds", "mlobs_model_info"} <= names
    counter = [m for m in sink.metrics if m.name == "mlobs_predictions"][-1]
    yes = [p for p in counter.sum.data_points if attributes(p)["class"] == "yes"]
    assert counter.sum.is_monotonic and yes[0].as_double == 3
    assert sink.metric_resources[-1]["service.name"] == "toy"


def test_metrics_made_with_the_opentelemetry_api_leave_too(exported):
    sink, _ = exported
    wait_for(lambda: any(m.name == "toy.scored" for m in sink.metrics))
    points = [p for m in sink.metrics if m.name == "toy.scored" for p in m.sum.data_points]
    assert points and max(p.as_int for p in points) == 3


def test_log_lines_leave_as_log_records_carrying_their_trace(exported):
    sink, _ = exported
    access = [l for l in sink.logs if l.body.string_value == "request"]
    assert len(access) == 3
    span_traces = {s.trace_id for s in sink.spans}
    assert {l.trace_id for l in access} <= span_traces
    assert attributes(access[0])["route"] == "/predict/{kind}"
    assert sink.log_resources[-1]["service.name"] == "toy"


def test_prometheus_metrics_stay_served(exported):
    _, metrics_text = exported
    assert "mlobs_http_request_duration_seconds_count" in metrics_text


def test_with_the_collector_away_requests_are_answered_and_the_drops_counted(tmp_path):
    dead = f"http://127.0.0.1:{free_port()}"
    env = {**OTLP_ALL, "OTEL_EXPORTER_OTLP_ENDPOINT": dead, "OTEL_EXPORTER_OTLP_TIMEOUT": "1",
           "MLOBS_ARTIFACTS_DIR": str(tmp_path)}
    with UvicornApp("support.toy_service:app", env, tmp_path / "toy.log") as service:
        for _ in range(5):
            assert httpx.post(f"{service.url}/predict/a", timeout=5).status_code == 200
        text = ""

        def counted():
            nonlocal text
            text = httpx.get(f"{service.url}/metrics").text
            return all(f'signal="{s}"' in text for s in ("metrics_export_failed", "logs_export_failed"))

        wait_for(counted, 30)
    assert 'mlobs_telemetry_dropped_total{service="toy",signal="metrics_export_failed"}' in text
    assert 'mlobs_telemetry_dropped_total{service="toy",signal="logs_export_failed"}' in text
