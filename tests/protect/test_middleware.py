from __future__ import annotations

import asyncio

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from mlobs import instrument
from mlobs.model_info import ModelInfo
from mlobs.protect import SECURITY_HEADERS
from protect.apps import ALICE_KEY, BOB_KEY, auth, build, protect_settings

TEXT = {"text": "a wonderful film, I loved every minute"}


@pytest.fixture
def sentiment(settings, sinks, sentiment_model):
    app, protection = build("sentiment", settings, sinks, protect_settings(rate_per_s=1, burst=3))
    with TestClient(app) as client:
        yield client, protection


def failures(sinks, reason: str) -> float:
    return sinks.sample("mlobs_auth_failures_total", {"service": "sentiment", "reason": reason}) or 0.0


def test_a_request_without_a_key_is_refused_with_401_and_counted(sentiment, sinks):
    client, _ = sentiment
    answer = client.post("/predict", json=TEXT)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthorized"
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert failures(sinks, "missing") == 1


def test_a_wrong_key_is_refused_and_counted_as_invalid_without_the_key_in_metrics(sentiment, sinks):
    client, _ = sentiment
    assert client.post("/predict", json=TEXT, headers=auth("not-a-key-Canary-9931")).status_code == 401
    assert client.post("/predict", json=TEXT, headers={"authorization": "Basic abc"}).status_code == 401
    assert failures(sinks, "invalid") == 1 and failures(sinks, "malformed") == 1
    from prometheus_client import generate_latest

    assert b"Canary-9931" not in generate_latest(sinks.registry)


def test_both_key_headers_authenticate_a_configured_client(sentiment, sinks):
    client, _ = sentiment
    assert client.post("/predict", json=TEXT, headers=auth(ALICE_KEY)).status_code == 200
    assert client.post("/predict", json=TEXT, headers={"x-api-key": BOB_KEY}).status_code == 200
    for who in ("alice", "bob"):
        assert sinks.sample("mlobs_client_requests_total",
                            {"service": "sentiment", "client": who, "status": "200"}) == 1


def test_probes_and_metrics_stay_open_without_a_key(sentiment):
    client, _ = sentiment
    for path in ("/healthz", "/readyz", "/metrics"):
        assert client.get(path).status_code == 200, path


def test_every_response_carries_the_security_headers(sentiment):
    client, _ = sentiment
    for answer in (client.get("/healthz"), client.get("/metrics"), client.post("/predict", json=TEXT),
                   client.post("/predict", json=TEXT, headers=auth()), client.get("/nowhere", headers=auth())):
        for name, value in SECURITY_HEADERS:
            assert answer.headers[name.decode()] == value.decode(), (answer.request.url, name)


def test_a_client_over_its_rate_gets_429_with_retry_after_while_another_client_is_served(sentiment, sinks):
    client, _ = sentiment
    codes = [client.post("/predict", json=TEXT, headers=auth(ALICE_KEY)).status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
    limited = client.post("/predict", json=TEXT, headers=auth(ALICE_KEY))
    assert int(limited.headers["retry-after"]) >= 1 and limited.json()["error"]["code"] == "rate_limited"
    assert client.post("/predict", json=TEXT, headers=auth(BOB_KEY)).status_code == 200
    assert sinks.sample("mlobs_rate_limited_total", {"service": "sentiment", "client": "alice", "limit": "rate"}) == 3


def test_a_declared_oversized_body_gets_413_before_it_is_read(settings, sinks, sentiment_model):
    app, _ = build("sentiment", settings.model_copy(update={"max_body_bytes": 1000}), sinks)
    with TestClient(app) as client:
        answer = client.post("/predict", content=b"x" * 5000,
                             headers={**auth(), "content-type": "application/json"})
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "too_large"


def test_a_streamed_body_without_length_is_cut_at_the_limit_with_413(settings, sinks, sentiment_model):
    app, _ = build("sentiment", settings.model_copy(update={"max_body_bytes": 1000}), sinks)

    def chunks():
        for _ in range(10):
            yield b'{"text": "' + b"a" * 400

    with TestClient(app) as client:
        answer = client.post("/predict", content=chunks(), headers={**auth(), "content-type": "application/json"})
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "too_large"
    assert sinks.sample("mlobs_client_requests_total",
                        {"service": "sentiment", "client": "alice", "status": "413"}) == 1


def test_refused_requests_are_measured_by_the_telemetry_middleware(sentiment, sinks):
    client, _ = sentiment
    client.post("/predict", json=TEXT)
    assert sinks.sample("mlobs_http_request_duration_seconds_count",
                        {"service": "sentiment", "model": "sentiment",
                         "model_version": client.get("/healthz").json()["model_version"],
                         "method": "POST", "route": "unmatched", "status": "401"}) == 1


def test_input_diversity_is_exported_per_client(sentiment, sinks):
    client, _ = sentiment
    client.post("/predict", json=TEXT, headers=auth())
    client.post("/predict", json=TEXT, headers=auth())
    client.post("/predict", json={"text": "something else"}, headers=auth())
    ratio = sinks.sample("mlobs_client_input_diversity", {"service": "sentiment", "client": "alice"})
    assert ratio == pytest.approx(2 / 3, abs=0.05)


def test_without_keys_auth_is_off_and_everyone_is_anonymous(settings, sinks, sentiment_model, caplog):
    from mlobs.protect import ProtectSettings

    with caplog.at_level("WARNING", logger="mlobs.protect"):
        app, protection = build("sentiment", settings, sinks, ProtectSettings())
    assert not protection.auth_on and "authentication OFF" in caplog.text
    with TestClient(app) as client:
        assert client.post("/predict", json=TEXT).status_code == 200
    assert sinks.sample("mlobs_client_requests_total",
                        {"service": "sentiment", "client": "anonymous", "status": "200"}) == 1


def test_auth_required_without_keys_refuses_to_start(settings, sinks, sentiment_model):
    from mlobs.protect import ProtectSettings

    with pytest.raises(ValueError, match="no API keys"):
        build("sentiment", settings, sinks, ProtectSettings(auth="required"))


def _tiny_app(settings, sinks, ps):
    app = FastAPI()
    info = ModelInfo(name="tiny", version="v1", training_data_hash="d", code_revision="c", classes=("a",))
    instrument(app, info, settings=settings.model_copy(update={"protect": ps}), configure_logging=False, protect=True,
               **sinks.kwargs())

    @app.post("/slow")
    async def slow():
        await asyncio.sleep(5)
        return {}

    @app.post("/boom")
    async def boom():
        raise RuntimeError("/srv/secret/model.pt weights layer conv2 exploded")

    return app


def test_a_request_over_its_budget_gets_a_504_json_error(settings, sinks):
    app = _tiny_app(settings, sinks, protect_settings(request_timeout_s=0.05))
    with TestClient(app) as client:
        answer = client.post("/slow", headers=auth())
    assert answer.status_code == 504 and answer.json()["error"]["code"] == "timeout"
    assert sinks.sample("mlobs_request_timeouts_total", {"service": "tiny", "client": "alice"}) == 1


def test_a_forced_exception_answers_500_without_trace_path_or_internals(settings, sinks):
    app = _tiny_app(settings, sinks, protect_settings())
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.post("/boom", headers=auth())
    assert answer.status_code == 500
    assert answer.json() == {"error": {"code": "internal", "message": "internal error"}}
    for leak in ("Traceback", "/srv", "secret", "conv2", "RuntimeError", ".py"):
        assert leak not in answer.text
    assert answer.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("body", [b"[" * 5_000 + b"]" * 5_000, b'{"text": "\xff\xfe not utf-8"}', b'{"text": '],
                         ids=["nested past the parser's depth", "not utf-8", "cut short"])
def test_a_body_the_parser_refuses_is_answered_400_and_counted_as_a_rejected_input(sentiment, sinks, body):
    client, _ = sentiment
    answer = client.post("/predict", content=body, headers={**auth(), "content-type": "application/json"})
    assert answer.status_code in (400, 422)
    code = answer.json()["error"]["code"]
    counted = [s for m in sinks.registry.collect() if m.name == "mlobs_rejected_inputs" for s in m.samples
               if s.name.endswith("_total") and s.labels.get("reason") == code]
    assert [s.value for s in counted] == [1.0]
