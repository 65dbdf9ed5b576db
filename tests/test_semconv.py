from __future__ import annotations

from mlobs import semconv


def test_the_known_methods_are_rfc_9110_and_patch():
    assert semconv.known_methods({}) == {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE",
                                         "PATCH"}


def test_the_standard_variable_replaces_the_known_methods_entirely():
    assert semconv.known_methods({"OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS": "GET, QUERY"}) == {"GET", "QUERY"}


def test_span_names_follow_method_and_route():
    assert semconv.span_name("POST", "/predict") == "POST /predict"
    assert semconv.span_name("GET", None) == "GET"
    assert semconv.span_name("_OTHER", None) == "HTTP"


def test_host_headers_split_into_address_and_port():
    assert semconv.split_host("example.com:8443", 80) == ("example.com", 8443)
    assert semconv.split_host("example.com", 80) == ("example.com", 80)
    assert semconv.split_host("[::1]:9000", 80) == ("::1", 9000)
    assert semconv.split_host("[::1]", None) == ("::1", None)


def test_a_path_is_served_when_a_route_of_the_app_has_it_behind_any_proxy_prefix():
    from fastapi import FastAPI

    app = FastAPI()
    app.add_api_route("/predict/{kind}", lambda kind: {}, methods=["POST"])
    assert semconv.served({"app": app, "path": "/predict/a"})
    assert semconv.served({"app": app, "path": "/api/predict/a", "root_path": "/api"})
    assert not semconv.served({"app": app, "path": "/applicants/A0012345"})
    assert not semconv.served({"app": app, "path": "/api/applicants/A0012345", "root_path": "/api"})
    assert not semconv.served({"path": "/predict/a"})  # no app to ask: nothing is known to be served
