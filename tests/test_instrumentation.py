from __future__ import annotations

import re

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from opentelemetry.trace import SpanKind

from mlobs import ModelInfo, instrument
from mlobs.errors import InputRejected
from mlobs.instrumentation import NullTelemetry

MODEL = ModelInfo("toy", "v1abc", "data123", "code456", classes=("no", "yes"))
LABELS = {"service": "toy", "model": "toy", "model_version": "v1abc"}


def toy_app(settings, sinks, **overrides):
    app = FastAPI()
    telemetry = instrument(app, MODEL, settings=settings.model_copy(update=overrides), configure_logging=False,
                           **sinks.kwargs())

    @app.post("/predict/{kind}")
    async def predict(kind: str, request: Request):
        if kind == "bad":
            raise InputRejected("too_long", "text is too long")
        if kind == "boom":
            raise RuntimeError("model exploded")
        with telemetry.inference(batch_size=2):
            pass
        telemetry.record_predictions(["yes", "no"], [0.9, 0.6])
        return {"request_id": telemetry.request_id(request)}

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok"}

    return app, telemetry


@pytest.fixture
def toy(settings, sinks):
    app, telemetry = toy_app(settings, sinks)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, telemetry


def test_inference_span_is_a_child_of_the_request_span(toy, sinks):
    client, telemetry = toy
    client.post("/predict/a")
    telemetry.flush()
    spans = {s.name: s for s in sinks.spans.get_finished_spans()}
    server, inference = spans["POST /predict/{kind}"], spans["inference"]
    assert server.kind is SpanKind.SERVER
    assert inference.parent.span_id == server.context.span_id
    assert inference.context.trace_id == server.context.trace_id
    assert inference.attributes["ml.model.version"] == "v1abc"
    assert server.attributes["http.route"] == "/predict/{kind}"
    assert server.attributes["http.response.status_code"] == 200


def test_spans_carry_service_environment_and_model_as_resource(toy, sinks):
    client, telemetry = toy
    client.post("/predict/a")
    telemetry.flush()
    resource = sinks.spans.get_finished_spans()[0].resource.attributes
    assert resource["service.name"] == "toy"
    assert resource["service.version"] == "v1abc"  # the model version, not the library's
    assert resource["deployment.environment.name"] == "dev"
    assert resource["ml.model.name"] == "toy"
    assert resource["ml.model.version"] == "v1abc"


def test_request_duration_is_counted_by_route_template_and_status(toy, sinks):
    client, _ = toy
    client.post("/predict/a")
    client.post("/predict/b")
    client.post("/predict/bad")
    count = "mlobs_http_request_duration_seconds_count"
    assert sinks.sample(count, {**LABELS, "method": "POST", "route": "/predict/{kind}", "status": "200"}) == 2
    assert sinks.sample(count, {**LABELS, "method": "POST", "route": "/predict/{kind}", "status": "422"}) == 1


def test_unknown_paths_share_one_route_label(toy, sinks):
    client, _ = toy
    client.get("/nope/1")
    client.get("/nope/2")
    labels = {**LABELS, "method": "GET", "route": "unmatched", "status": "404"}
    assert sinks.sample("mlobs_http_request_duration_seconds_count", labels) == 2


def test_predictions_confidence_and_inference_are_recorded(toy, sinks):
    client, _ = toy
    client.post("/predict/a")
    assert sinks.sample("mlobs_predictions_total", {**LABELS, "class": "yes"}) == 1
    assert sinks.sample("mlobs_predictions_total", {**LABELS, "class": "no"}) == 1
    assert sinks.sample("mlobs_prediction_confidence_count", LABELS) == 2
    assert sinks.sample("mlobs_inference_duration_seconds_count", LABELS) == 1


def test_model_info_gauge_names_version_data_and_code(toy, sinks):
    labels = {**LABELS, "training_data_hash": "data123", "code_revision": "code456"}
    assert sinks.sample("mlobs_model_info", labels) == 1


def test_rejected_input_is_a_json_4xx_counted_by_reason(toy, sinks):
    client, _ = toy
    response = client.post("/predict/bad")
    assert response.status_code == 422
    assert response.json() == {"error": {"code": "too_long", "message": "text is too long"}}
    assert sinks.sample("mlobs_rejected_inputs_total", {**LABELS, "reason": "too_long"}) == 1


def test_unhandled_error_is_a_500_without_internals_and_an_error_span(toy, sinks):
    client, telemetry = toy
    response = client.post("/predict/boom")
    telemetry.flush()
    assert response.status_code == 500
    assert "exploded" not in response.text and "Traceback" not in response.text
    server = [s for s in sinks.spans.get_finished_spans() if s.kind is SpanKind.SERVER][0]
    assert server.attributes["http.response.status_code"] == 500
    assert not server.status.is_ok


def test_openmetrics_exposition_carries_trace_id_exemplars(toy, sinks):
    client, telemetry = toy
    client.post("/predict/a")
    telemetry.flush()
    trace_ids = {format(s.context.trace_id, "032x") for s in sinks.spans.get_finished_spans()}
    body = client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}).text
    exemplars = set(re.findall(r'# \{trace_id="([0-9a-f]{32})"\}', body))
    assert exemplars and exemplars <= trace_ids


def test_plain_prometheus_exposition_is_served_without_exemplars(toy):
    client, _ = toy
    client.post("/predict/a")
    response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    assert "mlobs_http_request_duration_seconds_bucket" in response.text
    assert "trace_id" not in response.text


def test_access_log_line_carries_the_trace_id_of_its_span(toy, sinks):
    client, telemetry = toy
    request_id = client.post("/predict/a").json()["request_id"]
    telemetry.flush()
    server = [s for s in sinks.spans.get_finished_spans() if s.kind is SpanKind.SERVER][0]
    line = [l for l in sinks.log_lines() if l.get("request_id") == request_id][0]
    assert line["trace_id"] == format(server.context.trace_id, "032x")
    assert line["span_id"] == format(server.context.span_id, "016x")
    assert (line["service"], line["model"], line["model_version"]) == ("toy", "toy", "v1abc")
    assert line["level"] == "INFO" and line["status"] == 200 and line["route"] == "/predict/{kind}"
    assert "timestamp" in line


def test_request_id_is_returned_in_a_header_and_the_body(toy):
    client, _ = toy
    response = client.post("/predict/a")
    assert response.headers["x-request-id"] == response.json()["request_id"]


CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


def test_an_untrusted_callers_traceparent_is_a_link_and_the_request_starts_its_own_trace(toy, sinks):
    client, telemetry = toy
    client.post("/predict/a", headers={"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"})
    telemetry.flush()
    server = [s for s in sinks.spans.get_finished_spans() if s.kind is SpanKind.SERVER][0]
    assert format(server.context.trace_id, "032x") != CALLER_TRACE
    assert server.parent is None
    [link] = server.links
    assert (format(link.context.trace_id, "032x"), format(link.context.span_id, "016x")) == (CALLER_TRACE, CALLER_SPAN)


def test_an_untrusted_callers_tracestate_is_left_off_the_link(toy, sinks):
    client, telemetry = toy
    client.post("/predict/a", headers={"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01",
                                       "tracestate": "applicant=A0012345,vendor=x"})
    telemetry.flush()
    [link] = server_span(sinks).links
    assert format(link.context.trace_id, "032x") == CALLER_TRACE
    assert link.context.trace_flags.sampled
    assert len(link.context.trace_state) == 0


def test_a_trusted_callers_traceparent_continues_the_callers_trace(settings, sinks):
    app, telemetry = toy_app(settings, sinks, trust_incoming_trace=True)
    with TestClient(app) as client:
        client.post("/predict/a", headers={"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"})
    telemetry.flush()
    server = [s for s in sinks.spans.get_finished_spans() if s.kind is SpanKind.SERVER][0]
    assert format(server.context.trace_id, "032x") == CALLER_TRACE
    assert format(server.parent.span_id, "016x") == CALLER_SPAN


def test_probes_and_metrics_make_no_spans_or_log_lines(toy, sinks):
    client, telemetry = toy
    client.get("/healthz")
    client.get("/metrics")
    telemetry.flush()
    assert sinks.spans.get_finished_spans() == ()
    assert not [l for l in sinks.log_lines() if l.get("message") == "request"]


def test_access_log_can_be_switched_off(settings, sinks):
    app, telemetry = toy_app(settings, sinks, access_log=False)
    with TestClient(app) as client:
        client.post("/predict/a")
    telemetry.flush()
    assert not [l for l in sinks.log_lines() if l.get("message") == "request"]


def test_disabled_telemetry_still_answers_errors_as_json(settings, sinks):
    app, telemetry = toy_app(settings, sinks, telemetry_enabled=False)
    assert isinstance(telemetry, NullTelemetry)
    with TestClient(app) as client:
        assert client.post("/predict/a").status_code == 200
        assert client.post("/predict/bad").json()["error"]["code"] == "too_long"
        assert client.get("/metrics").status_code == 404
    assert sinks.registry.get_sample_value("mlobs_model_info", {**LABELS, "training_data_hash": "data123",
                                                                 "code_revision": "code456"}) is None


def slow_app(settings, sinks, seconds: float):
    app = FastAPI()
    telemetry = instrument(app, MODEL, settings=settings.model_copy(update={"inference_timeout_s": 0.1}),
                           configure_logging=False, **sinks.kwargs())

    @app.post("/predict")
    async def predict():
        import time

        result = await telemetry.predict(lambda: time.sleep(seconds) or "done")
        return {"result": result}

    return app, telemetry


def test_an_inference_over_its_deadline_answers_504_and_frees_the_request(settings, sinks):
    app, _ = slow_app(settings, sinks, seconds=0.5)
    with TestClient(app) as client:
        response = client.post("/predict")
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "inference_timeout"


def test_an_inference_within_its_deadline_runs_on_the_worker_inside_the_inference_span(settings, sinks):
    app, telemetry = slow_app(settings, sinks, seconds=0.0)
    with TestClient(app) as client:
        assert client.post("/predict").json() == {"result": "done"}
    telemetry.flush()
    names = [s.name for s in sinks.spans.get_finished_spans()]
    assert "inference" in names


def server_span(sinks):
    return [s for s in sinks.spans.get_finished_spans() if s.kind is SpanKind.SERVER][-1]


def test_the_server_span_carries_the_stable_http_conventions(toy, sinks):
    client, telemetry = toy
    client.post("/predict/a?secret=1", headers={"user-agent": "probe/1.0", "host": "models.example:8443"})
    telemetry.flush()
    a = server_span(sinks).attributes
    assert server_span(sinks).name == "POST /predict/{kind}"
    assert a["http.request.method"] == "POST" and a["http.route"] == "/predict/{kind}"
    assert a["url.path"] == "/predict/a" and a["url.scheme"] == "http"
    assert (a["server.address"], a["server.port"]) == ("models.example", 8443)
    assert a["client.address"] == "testclient" and a["network.peer.address"] == "testclient"
    assert a["user_agent.original"] == "probe/1.0"
    assert a["network.protocol.version"] == "1.1"
    assert a["http.response.status_code"] == 200
    assert "error.type" not in a
    assert not any("secret" in str(v) for v in a.values())  # the query string is not recorded


def test_an_unhandled_error_names_its_type_on_the_span(toy, sinks):
    client, telemetry = toy
    client.post("/predict/boom")
    telemetry.flush()
    assert server_span(sinks).attributes["error.type"] == "RuntimeError"


def test_a_client_error_is_not_a_span_error(toy, sinks):
    client, telemetry = toy
    client.post("/predict/bad")
    telemetry.flush()
    span = server_span(sinks)
    assert span.status.is_unset and "error.type" not in span.attributes


def test_an_unmatched_path_is_a_span_named_by_its_method_alone(toy, sinks):
    client, telemetry = toy
    client.get("/nope/1")
    telemetry.flush()
    span = server_span(sinks)
    assert span.name == "GET" and "http.route" not in span.attributes
    assert "url.path" not in span.attributes  # what the caller typed: it may carry an id


def test_a_path_the_app_serves_stays_on_the_span_of_a_method_it_refuses(toy, sinks):
    client, telemetry = toy
    client.delete("/predict/a")
    telemetry.flush()
    span = server_span(sinks)
    assert span.attributes["http.response.status_code"] == 405
    assert span.attributes["url.path"] == "/predict/a"


def test_an_unknown_method_is_recorded_as_other_with_the_original_on_the_span_only(toy, sinks):
    client, telemetry = toy
    client.request("BREW", "/predict/a")
    telemetry.flush()
    span = server_span(sinks)
    assert span.name == "HTTP /predict/{kind}"
    assert span.attributes["http.request.method"] == "_OTHER"
    assert span.attributes["http.request.method_original"] == "BREW"
    count = "mlobs_http_request_duration_seconds_count"
    assert sinks.sample(count, {**LABELS, "method": "_OTHER", "route": "/predict/{kind}", "status": "405"}) == 1
    assert "BREW" not in client.get("/metrics").text


def test_the_known_methods_can_be_replaced_by_the_standard_variable(settings, sinks, monkeypatch):
    monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS", "GET,POST,BREW")
    app, telemetry = toy_app(settings, sinks)
    with TestClient(app) as client:
        client.request("BREW", "/predict/a")
        client.request("PUT", "/predict/a")
    count = "mlobs_http_request_duration_seconds_count"
    assert sinks.sample(count, {**LABELS, "method": "BREW", "route": "/predict/{kind}", "status": "405"}) == 1
    assert sinks.sample(count, {**LABELS, "method": "_OTHER", "route": "/predict/{kind}", "status": "405"}) == 1


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_probes_and_metrics_answer_head(settings, sinks, path):
    app = FastAPI()
    instrument(app, MODEL, settings=settings, configure_logging=False, **sinks.kwargs())
    with TestClient(app) as client:
        response = client.head(path)
    assert response.status_code == 200 and response.content == b""


def test_without_an_inference_span_its_timing_is_on_the_request_span(settings, sinks):
    app, telemetry = toy_app(settings, sinks, inference_span=False)
    with TestClient(app) as client:
        client.post("/predict/a")
    telemetry.flush()
    spans = sinks.spans.get_finished_spans()
    assert [s.kind for s in spans] == [SpanKind.SERVER]
    assert spans[0].attributes["ml.inference.duration"] >= 0 and spans[0].attributes["ml.batch_size"] == 2
    assert sinks.sample("mlobs_inference_duration_seconds_count", LABELS) == 1


def test_an_unsampled_request_makes_no_spans_and_no_exemplar_but_logs_its_trace_id(settings, sinks, monkeypatch):
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_off")
    app, telemetry = toy_app(settings, sinks)
    with TestClient(app) as client:
        request_id = client.post("/predict/a").json()["request_id"]
        body = client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}).text
    telemetry.flush()
    assert sinks.spans.get_finished_spans() == ()
    assert "trace_id" not in body
    line = [l for l in sinks.log_lines() if l.get("request_id") == request_id][0]
    assert re.fullmatch(r"[0-9a-f]{32}", line["trace_id"])


def test_two_apps_on_one_registry_share_its_metric_families(settings):
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry()
    for name in ("first", "second"):
        app = FastAPI()
        instrument(app, MODEL, settings=settings, service_name=name, registry=registry, configure_logging=False)
        with TestClient(app) as client:
            client.get("/nope")
    for name in ("first", "second"):
        labels = {**LABELS, "service": name, "method": "GET", "route": "unmatched", "status": "404"}
        assert registry.get_sample_value("mlobs_http_request_duration_seconds_count", labels) == 1


def test_with_the_sdk_disabled_no_span_is_made_and_requests_are_answered(settings, sinks, monkeypatch):
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    app, telemetry = toy_app(settings, sinks)
    with TestClient(app) as client:
        assert client.post("/predict/a").status_code == 200
    telemetry.flush()
    assert sinks.spans.get_finished_spans() == ()
    assert sinks.sample("mlobs_inference_duration_seconds_count", LABELS) == 1


def _burn(seconds: float) -> float:
    """Spin the CPU of the calling thread for `seconds` of its own CPU time."""
    import time

    start = time.thread_time()
    while time.thread_time() - start < seconds:
        pass
    return time.thread_time() - start


def test_the_cpu_a_model_call_burns_is_counted_against_its_model_version(settings, sinks):
    app = FastAPI()
    telemetry = instrument(app, MODEL, settings=settings, configure_logging=False, **sinks.kwargs())

    @app.post("/predict")
    async def predict():
        return {"burned": await telemetry.predict(_burn, 0.03)}

    @app.post("/inline")
    async def inline():
        with telemetry.inference():
            return {"burned": _burn(0.02)}

    with TestClient(app) as client:
        burned = client.post("/predict").json()["burned"] + client.post("/inline").json()["burned"]
    counted = sinks.sample("mlobs_inference_cpu_seconds_total", LABELS)
    assert burned <= counted < burned + 0.01


def test_a_model_call_on_a_worker_thread_is_charged_the_workers_cpu_not_the_event_loops(settings, sinks):
    app = FastAPI()
    telemetry = instrument(app, MODEL, settings=settings.model_copy(update={"inference_timeout_s": 5.0}),
                           configure_logging=False, **sinks.kwargs())

    @app.post("/predict")
    async def predict():
        return {"burned": await telemetry.predict(_burn, 0.03)}

    with TestClient(app) as client:
        burned = client.post("/predict").json()["burned"]
    assert burned <= sinks.sample("mlobs_inference_cpu_seconds_total", LABELS) < burned + 0.01
