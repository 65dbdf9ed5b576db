"""Inference CPU by client: the client protection identified, with a label that stays bounded."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from mlobs.client_cost import MAX_CLIENT_CHARS, OTHER, PROMOTE_AFTER
from mlobs.metrics import ServiceMetrics
from mlobs.model_info import ModelInfo
from mlobs.protect.client import current_client
from protect.apps import ALICE_KEY, BOB_KEY, auth, build

LABELS = {"service": "svc", "model": "m", "model_version": "v1"}
TEXT = {"text": "a wonderful film, I loved every minute"}


def _charge_as(metrics: ServiceMetrics, client: str, times: int, seconds: float = 0.001) -> None:
    token = current_client.set(client)
    try:
        for _ in range(times):
            metrics.charge_cpu(seconds)
    finally:
        current_client.reset(token)


def _client_series(registry: CollectorRegistry) -> dict[str, float]:
    return {s.labels["client"]: s.value for m in registry.collect() for s in m.samples
            if s.name == "mlobs_client_inference_cpu_seconds_total"}


def test_ten_thousand_client_ids_make_at_most_top_n_plus_other_series_and_lose_no_cpu():
    registry = CollectorRegistry()
    metrics = ServiceMetrics(registry, "svc", ModelInfo("m", "v1", "d", "c"), client_top_n=3)
    for i in range(10_000):
        _charge_as(metrics, f"attacker-{i}", 1)
    for name in ("web", "batch", "mobile", "partner"):
        _charge_as(metrics, name, PROMOTE_AFTER + 5)
    series = _client_series(registry)
    assert set(series) == {"web", "batch", "mobile", OTHER}
    by_version = registry.get_sample_value("mlobs_inference_cpu_seconds_total", LABELS)
    assert abs(sum(series.values()) - by_version) < 1e-9
    assert abs(by_version - (10_000 + 4 * (PROMOTE_AFTER + 5)) * 0.001) < 1e-6


def test_a_client_seen_only_a_few_times_is_counted_as_other_and_keeps_no_label():
    registry = CollectorRegistry()
    metrics = ServiceMetrics(registry, "svc", ModelInfo("m", "v1", "d", "c"), client_top_n=5)
    _charge_as(metrics, "one-off", PROMOTE_AFTER - 1)
    assert set(_client_series(registry)) == {OTHER}
    _charge_as(metrics, "one-off", 1)
    assert _client_series(registry)["one-off"] > 0


def test_a_client_id_longer_than_the_label_limit_keeps_its_label_after_it_is_given_one():
    registry = CollectorRegistry()
    metrics = ServiceMetrics(registry, "svc", ModelInfo("m", "v1", "d", "c"), client_top_n=5)
    long_id = "tenant-" + "x" * 200
    _charge_as(metrics, long_id, PROMOTE_AFTER + 10, seconds=1.0)
    series = _client_series(registry)
    assert series[long_id[:MAX_CLIENT_CHARS]] == 11.0 and series[OTHER] == PROMOTE_AFTER - 1


def test_a_protected_service_charges_each_api_keys_client_for_its_own_predictions(settings, sinks, sentiment_model):
    app, _ = build("sentiment", settings, sinks)
    with TestClient(app) as client:
        for _ in range(PROMOTE_AFTER + 10):
            assert client.post("/predict", json=TEXT, headers=auth(ALICE_KEY)).status_code == 200
        for _ in range(PROMOTE_AFTER + 10):
            assert client.post("/predict", json=TEXT, headers=auth(BOB_KEY)).status_code == 200
        scraped = client.get("/metrics").text
    lines = [line for line in scraped.splitlines() if line.startswith("mlobs_client_inference_cpu_seconds_total{")]
    clients = {line.split('client="')[1].split('"')[0]: float(line.rsplit(" ", 1)[1]) for line in lines}
    assert clients["alice"] > 0 and clients["bob"] > 0
    assert set(clients) <= {"alice", "bob", OTHER}
