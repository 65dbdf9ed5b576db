from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from mlobs_services.sentiment.service import create_app

CANARY = "Zanzibar-canary-7781 loved the soup"


@pytest.fixture
def service(settings, sinks, sentiment_model):
    app = create_app(settings, configure_logging=False, **sinks.kwargs())
    with TestClient(app) as client:
        yield client, app.state.telemetry, sentiment_model


def labels_of(model):
    return {"service": "sentiment", "model": "sentiment", "model_version": model.version}


def test_one_text_gets_a_label_probability_version_and_request_id(service):
    client, _, model = service
    body = client.post("/predict", json={"text": "The staff were wonderful and the food was delicious"}).json()
    assert body["label"] == "positive"
    assert 0.5 < body["probability"] <= 1
    assert body["model"] == "sentiment" and body["model_version"] == model.version
    assert len(body["request_id"]) == 32


def test_a_batch_gets_one_prediction_per_text(service):
    client, _, _ = service
    body = client.post("/predict", json={"texts": ["terrible, rude staff, never again", "I loved it", "ok"]}).json()
    assert [p["label"] for p in body["predictions"]][:2] == ["negative", "positive"]
    assert len(body["predictions"]) == 3


def test_feedback_scores_the_prediction_for_online_accuracy(service, sinks):
    client, _, model = service
    first = client.post("/predict", json={"text": "absolutely awful, cold and bland"}).json()["request_id"]
    second = client.post("/predict", json={"text": "absolutely awful, cold and bland"}).json()["request_id"]
    assert client.post("/feedback", json={"request_id": first, "label": "negative"}).json() == {"outcome": "correct"}
    assert client.post("/feedback", json={"request_id": second, "label": "positive"}).json() == {"outcome": "incorrect"}
    for outcome in ("correct", "incorrect"):
        assert sinks.sample("mlobs_feedback_total", {**labels_of(model), "outcome": outcome}) == 1


def test_a_second_feedback_for_one_prediction_is_a_409_and_does_not_count(service, sinks):
    client, _, model = service
    request_id = client.post("/predict", json={"text": "absolutely awful, cold and bland"}).json()["request_id"]
    client.post("/feedback", json={"request_id": request_id, "label": "negative"})
    again = client.post("/feedback", json={"request_id": request_id, "label": "positive"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "duplicate_feedback"
    assert sinks.sample("mlobs_feedback_total", {**labels_of(model), "outcome": "incorrect"}) == 0
    assert sinks.sample("mlobs_rejected_inputs_total", {**labels_of(model), "reason": "duplicate_feedback"}) == 1


def test_feedback_for_an_unknown_request_is_a_404(service):
    client, _, _ = service
    response = client.post("/feedback", json={"request_id": "f" * 32, "label": "negative"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_request"


@pytest.mark.parametrize(
    "body, reason",
    [
        ({"text": ""}, "empty"),
        ({"text": "   "}, "empty"),
        ({"text": "x" * 5001}, "too_long"),
        ({"texts": ["fine"] * 65}, "batch_too_large"),
        ({"texts": []}, "empty"),
        ({"text": 42}, "wrong_type"),
        ({"texts": "not a list"}, "wrong_type"),
        ({"texts": ["ok", None]}, "wrong_type"),
        ({}, "missing_field"),
        ({"text": "a", "texts": ["b"]}, "ambiguous"),
        ({"text": "a", "mood": "happy"}, "unknown_field"),
        ([1, 2], "wrong_type"),
        (b'{"text": "unterminated', "invalid_json"),
    ],
)
def test_bad_input_is_a_clear_4xx_counted_by_reason(service, sinks, body, reason):
    client, _, model = service
    if isinstance(body, bytes):
        response = client.post("/predict", content=body, headers={"content-type": "application/json"})
    else:
        response = client.post("/predict", json=body)
    assert 400 <= response.status_code < 500
    assert response.json()["error"]["code"] == reason
    assert response.json()["error"]["message"]
    assert sinks.sample("mlobs_rejected_inputs_total", {**labels_of(model), "reason": reason}) == 1


def test_probes_name_the_model_version(service):
    client, _, model = service
    assert client.get("/healthz").json() == {"status": "ok", "model": "sentiment", "model_version": model.version}
    assert client.get("/readyz").status_code == 200


def test_request_text_never_reaches_logs_spans_or_metrics(service, sinks):
    client, telemetry, _ = service
    client.post("/predict", json={"text": CANARY})
    client.post("/predict", json={"texts": [CANARY, CANARY]})
    client.post("/predict", json={"text": CANARY, "oops": CANARY})  # rejected: not echoed either
    telemetry.flush()
    spans = json.dumps([json.loads(s.to_json()) for s in sinks.spans.get_finished_spans()])
    metrics = client.get("/metrics", headers={"Accept": "application/openmetrics-text"}).text
    logs = sinks.log_stream.getvalue().decode()
    assert "request" in logs and "inference" in spans  # the sinks did receive telemetry
    for sink in (spans, metrics, logs):
        assert "Zanzibar" not in sink


def test_a_service_without_a_trained_model_says_how_to_train_it(tmp_path):
    from mlobs.settings import Settings

    with pytest.raises(FileNotFoundError, match="mlobs train sentiment"):
        create_app(Settings(artifacts_dir=tmp_path))
