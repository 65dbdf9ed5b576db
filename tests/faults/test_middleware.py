"""An injected /predict fault: off by default, and, when set, seen by the service's own telemetry."""

from __future__ import annotations

from fastapi.testclient import TestClient

from mlobs.faults.middleware import install
from mlobs.faults.settings import FaultSettings
from mlobs.settings import Settings
from protect.apps import auth, build

TEXT = {"text": "a wonderful film, I loved every minute"}


def _predict(sinks, series: str, status: str, **labels) -> float:
    return sum(s.value for m in sinks.registry.collect() for s in m.samples
               if s.name == f"mlobs_http_request_duration_seconds_{series}" and s.labels.get("route") == "/predict"
               and s.labels.get("status") == status and all(s.labels.get(k) == v for k, v in labels.items()))


def _bucket(sinks, le: str) -> float:
    return _predict(sinks, "bucket", "200", le=le)


def test_no_fault_is_on_in_the_default_settings():
    assert not Settings(_env_file=None).fault.enabled


def test_a_delay_starts_after_its_grace_period_and_shows_in_the_services_latency_histogram(settings, sinks,
                                                                                             sentiment_model):
    app, _ = build("sentiment", settings, sinks)
    clock = iter([0.0, 1.0, 5.0, 11.0, 12.0])
    assert install(app, FaultSettings(predict_delay_s=0.25, after_s=10.0))
    app.user_middleware[-1].kwargs["clock"] = lambda: next(clock)
    with TestClient(app) as client:
        for _ in range(5):
            assert client.post("/predict", json=TEXT, headers=auth()).status_code == 200
    assert _bucket(sinks, "0.2") == 3  # the first three, before the fault started
    assert _bucket(sinks, "+Inf") - _bucket(sinks, "0.25") == 2  # the last two, delayed past 250 ms


def test_an_error_ratio_of_one_answers_every_predict_503_and_the_service_counts_them(settings, sinks,
                                                                                     sentiment_model):
    app, _ = build("sentiment", settings, sinks)
    install(app, FaultSettings(predict_error_ratio=1.0))
    with TestClient(app) as client:
        answer = client.post("/predict", json=TEXT, headers=auth())
        assert client.get("/healthz").status_code == 200  # only /predict is affected
    assert answer.status_code == 503 and answer.json()["error"] == "injected_fault"
    assert _predict(sinks, "count", "503") == 1
