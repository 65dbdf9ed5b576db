"""The sentiment service as a process, scraped by a real Prometheus with exemplar storage."""

from __future__ import annotations

import time

import httpx
import pytest

from mlobs.local.prometheus import Prometheus, scrape_config
from support.otlp import OtlpSink
from support.processes import ServiceProcess

pytestmark = pytest.mark.integration

SELECTOR = '{service="sentiment", model="sentiment"}'


def send_traffic(url: str) -> None:
    with httpx.Client(base_url=url, timeout=10) as client:
        for i in range(40):
            body = client.post("/predict", json={"text": f"the food was great and the staff lovely {i}"}).json()
            client.post("/feedback", json={"request_id": body["request_id"], "label": "positive"})
        client.post("/predict", json={"texts": ["awful", "fine", "superb"]})
        client.post("/predict", json={"text": ""})


@pytest.fixture(scope="module")
def stack(tmp_path_factory, artifacts_dir, sentiment_model):
    workdir = tmp_path_factory.mktemp("prometheus-it")
    with OtlpSink() as sink:
        env = {
            "MLOBS_ARTIFACTS_DIR": str(artifacts_dir),
            "OTEL_EXPORTER_OTLP_ENDPOINT": sink.url,
            "OTEL_BSP_SCHEDULE_DELAY": "200",
        }
        with ServiceProcess("sentiment", env, workdir / "service.log") as service:
            config = {"global": {"scrape_interval": "1s"},
                      "scrape_configs": [scrape_config("sentiment", [f"127.0.0.1:{service.port}"])]}
            with Prometheus(config, workdir) as prometheus:
                start = time.time()
                send_traffic(service.url)
                prometheus.wait_until(f'mlobs_feedback_total{SELECTOR} >= 40')
                yield prometheus, sink, sentiment_model, start


@pytest.mark.parametrize(
    "series",
    [
        "mlobs_http_request_duration_seconds_bucket",
        "mlobs_inference_duration_seconds_bucket",
        "mlobs_predictions_total",
        "mlobs_prediction_confidence_bucket",
        "mlobs_feedback_total",
        "mlobs_rejected_inputs_total",
        "mlobs_model_info",
    ],
)
def test_every_service_metric_reaches_prometheus_keyed_by_model_version(stack, series):
    prometheus, _, model, _ = stack
    found = prometheus.series(series + SELECTOR)
    assert found, series
    assert {s["model_version"] for s in found} == {model.version}


def test_request_counts_in_prometheus_match_the_traffic(stack):
    prometheus, _, _, _ = stack
    result = prometheus.query(
        'sum(mlobs_http_request_duration_seconds_count{service="sentiment", route="/predict", status="200"})'
    )
    assert float(result[0]["value"][1]) == 41


def test_an_exemplar_in_prometheus_points_at_an_exported_trace(stack):
    prometheus, sink, _, start = stack
    deadline = time.monotonic() + 15
    while True:  # spans leave the service in batches; wait for the ones the exemplars name
        exemplars = prometheus.exemplars(
            "mlobs_http_request_duration_seconds_bucket" + SELECTOR, start - 5, time.time() + 5
        )
        trace_ids = {e["labels"]["trace_id"] for group in exemplars for e in group["exemplars"]}
        if (trace_ids and trace_ids <= sink.trace_ids()) or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert trace_ids, "no exemplars stored"
    assert trace_ids & sink.trace_ids()
    assert trace_ids <= sink.trace_ids()


def test_exported_spans_carry_the_model_version_resource(stack):
    _, sink, model, _ = stack
    assert any(r.get("ml.model.version") == model.version and r.get("service.name") == "sentiment"
               for r in sink.resources)
