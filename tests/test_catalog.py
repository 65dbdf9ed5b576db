from __future__ import annotations

from mlobs import catalog


def test_latency_buckets_contain_the_200ms_slo_threshold():
    assert 0.2 in catalog.LATENCY_BUCKETS
    assert list(catalog.LATENCY_BUCKETS) == sorted(catalog.LATENCY_BUCKETS)


def test_every_service_metric_is_namespaced_and_keyed_by_model_version():
    for metric in catalog.SERVICE_METRICS:
        assert metric.name.startswith("mlobs_")
        assert catalog.SERVICE in metric.labels
    for metric in set(catalog.SERVICE_METRICS) - {catalog.TELEMETRY_DROPPED}:
        assert set(catalog.MODEL_LABELS) <= set(metric.labels), metric.name


def test_series_names_follow_prometheus_conventions():
    assert catalog.PREDICTIONS.total == "mlobs_predictions_total"
    assert catalog.HTTP_REQUEST_DURATION.bucket == "mlobs_http_request_duration_seconds_bucket"
    assert catalog.HTTP_REQUEST_DURATION.name.endswith("_seconds")
