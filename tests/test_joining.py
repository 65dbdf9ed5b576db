"""instrument() joins the application's OpenTelemetry and Prometheus setup instead of replacing it.
Each case runs in a fresh interpreter: global providers can be set once per process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow  # a fresh interpreter per case

PRELUDE = """
import json
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY, Counter
from mlobs import ModelInfo, instrument

MODEL = ModelInfo("churn", "m-42", "d", "c")
memory = InMemorySpanExporter()

def serve_one(app, telemetry):
    @app.get("/work")
    async def work():
        with trace.get_tracer("users.code").start_as_current_span("users-step"):
            pass
        return {}
    with TestClient(app) as client:
        client.get("/work")
        metrics = client.get("/metrics").text
    telemetry.flush()
    spans = {s.name: s for s in memory.get_finished_spans()}
    server, step = spans["GET /work"], spans["users-step"]
    return {"parent_is_server": step.parent.span_id == server.context.span_id,
            "resource": dict(server.resource.attributes), "metrics": metrics}

def serve_on_mlobs_provider(**kwargs):
    app = FastAPI()
    telemetry = instrument(app, MODEL, configure_logging=False, **kwargs)
    trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(memory))
    return serve_one(app, telemetry)
"""


def run(script: str, **env) -> dict:
    code = PRELUDE + textwrap.dedent(script) + "\nprint(json.dumps(result))\n"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "MLOBS_"))}
    out = subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_applications_own_tracer_provider_is_used_as_it_is():
    result = run("""
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        provider = TracerProvider(resource=Resource.create({"service.name": "users-own"}))
        provider.add_span_processor(SimpleSpanProcessor(memory))
        trace.set_tracer_provider(provider)
        app = FastAPI()
        result = serve_one(app, instrument(app, MODEL, configure_logging=False))
    """)
    assert result["parent_is_server"]
    assert result["resource"]["service.name"] == "users-own"


def test_without_one_mlobs_sets_a_global_provider_the_applications_spans_join():
    result = run("""
        app = FastAPI()
        telemetry = instrument(app, MODEL, configure_logging=False)
        assert trace.get_tracer_provider() is telemetry.tracer_provider
        trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(memory))
        result = serve_one(app, telemetry)
    """)
    assert result["parent_is_server"]
    assert result["resource"]["service.name"] == "churn"
    assert result["resource"]["service.version"] == "m-42"


def test_metrics_go_to_prometheus_clients_default_registry_beside_the_applications_own():
    result = run("""
        mine = Counter("users_own_events", "The application's own counter.")
        mine.inc(3)
        result = serve_on_mlobs_provider()
        result["on_default_registry"] = REGISTRY.get_sample_value(
            "mlobs_http_request_duration_seconds_count",
            {"service": "churn", "model": "churn", "model_version": "m-42", "method": "GET", "route": "/work",
             "status": "200"})
    """)
    assert "users_own_events_total 3.0" in result["metrics"]
    assert "process_cpu_seconds_total" in result["metrics"]
    assert result["on_default_registry"] == 1


def test_the_environments_resource_attributes_win_over_mlobs_defaults():
    result = run("""
        result = serve_on_mlobs_provider()
    """, OTEL_RESOURCE_ATTRIBUTES="deployment.environment.name=staging,service.version=7.1,team=risk",
        OTEL_SERVICE_NAME="churn-api")
    resource = result["resource"]
    assert (resource["service.name"], resource["service.version"]) == ("churn-api", "7.1")
    assert (resource["deployment.environment.name"], resource["team"]) == ("staging", "risk")
    assert resource["ml.model.version"] == "m-42"
    assert 'service="churn-api"' in result["metrics"]


def test_versions_and_names_given_in_code_win_over_the_environment():
    result = run("""
        result = serve_on_mlobs_provider(service_name="scoring", service_version="2.0.0")
    """, OTEL_RESOURCE_ATTRIBUTES="service.version=7.1", OTEL_SERVICE_NAME="churn-api")
    assert (result["resource"]["service.name"], result["resource"]["service.version"]) == ("scoring", "2.0.0")


def test_the_service_version_can_be_set_apart_from_the_model_version():
    result = run("""
        result = serve_on_mlobs_provider()
    """, MLOBS_SERVICE_VERSION="1.4.2")
    assert result["resource"]["service.version"] == "1.4.2"
    assert result["resource"]["ml.model.version"] == "m-42"
