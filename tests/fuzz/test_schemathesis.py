"""schemathesis against each protected service's own OpenAPI document: positive and negative cases,
a fixed budget per operation, deterministic. No 5xx, and every answer conforms to the document."""

from __future__ import annotations

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings as hsettings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from protect.apps import auth, build, protect_settings

CASES = 100  # per operation and generation mode
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
COUNTS: dict[str, int] = {}


def fuzz(app, service: str) -> int:
    with TestClient(app):  # runs startup/shutdown around the cases
        schema = schemathesis.openapi.from_asgi("/openapi.json", app, headers=auth())
        total = 0
        # One list, emptied for each operation and mode: @given refuses default arguments, so `run`
        # could not bind a fresh list made inside the loop.
        seen: list[int] = []
        for result in schema.get_all_operations():
            operation = result.ok()
            for mode in GenerationMode:
                seen.clear()

                @hsettings(max_examples=CASES, derandomize=True, deadline=None, database=None,
                           suppress_health_check=list(HealthCheck))
                @given(case=operation.as_strategy(generation_mode=mode))
                def run(case):
                    response = case.call(headers=auth())
                    case.validate_response(response, checks=CHECKS)
                    seen.append(response.status_code)

                try:
                    run()
                except Unsatisfiable:
                    # No invalid input exists for an operation without parameters or body (the probes).
                    assert (mode is GenerationMode.NEGATIVE
                            and operation.method.upper() in ("GET", "HEAD")), operation.label
                    continue
                assert seen, f"{operation.label} {mode.value}: no case ran"
                total += len(seen)
    COUNTS[service] = total
    print(f"\nschemathesis {schemathesis.__version__}: {service}: {total} cases, no 5xx, all conform")
    return total


def limits():
    return protect_settings(rate_per_s=100_000, burst=100_000)


@pytest.mark.slow
def test_sentiment_answers_every_fuzzed_request_without_5xx_and_within_its_schema(settings, sinks, sentiment_model):
    app, _ = build("sentiment", settings, sinks, limits())
    assert fuzz(app, "sentiment") >= CASES * 2


@pytest.mark.slow
def test_credit_answers_every_fuzzed_request_without_5xx_and_within_its_schema(settings, sinks, credit_model):
    app, _ = build("credit", settings, sinks, limits())
    assert fuzz(app, "credit") >= CASES * 2


@pytest.mark.slow
def test_vision_answers_every_fuzzed_request_without_5xx_and_within_its_schema(settings, sinks, vision_model):
    small = settings.model_copy(update={"max_batch": 4, "max_image_bytes": 50_000})
    app, _ = build("vision", small, sinks, limits())
    assert fuzz(app, "vision") >= CASES * 2


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    print("\nfuzzed cases:", COUNTS)
