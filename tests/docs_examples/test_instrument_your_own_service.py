"""The "Instrument your own service" example of the README (the same as docs/instrument.md's), run as
it says: its code block saved as app.py and served by plain `uvicorn app:app`, traces to an OTLP endpoint."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import orjson
import pytest

from support.otlp import OtlpSink
from support.uvicorn_app import UvicornApp

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
README, DOC = ROOT / "README.md", ROOT / "docs" / "instrument.md"


def the_example(page: Path = README) -> str:
    section = page.read_text().split("## Instrument your own service", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_and_the_instrumenting_page_show_the_same_example():
    assert the_example(README) == the_example(DOC)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    directory = tmp_path_factory.mktemp("users-service")
    (directory / "app.py").write_text(the_example())
    with OtlpSink() as sink:
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": sink.url, "OTEL_BSP_SCHEDULE_DELAY": "100"}
        with UvicornApp("app:app", env, directory / "out.log", app_dir=directory) as service:
            for tenure in (3, 12):
                assert httpx.post(f"{service.url}/score", json={"tenure_months": tenure}).status_code == 200
            metrics = httpx.get(f"{service.url}/metrics").text
            deadline = time.monotonic() + 15
            while len([s for s in sink.spans if s.name == "features"]) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
        yield sink, metrics, service.output()


def test_the_users_own_span_is_a_child_of_the_server_span(served):
    sink, _, _ = served
    servers = {s.span_id: s for s in sink.spans if s.name == "POST /score"}
    features = [s for s in sink.spans if s.name == "features"]
    assert len(servers) == 2 and len(features) == 2  # one server span per request: FastAPI's own is off
    assert not [s for s in sink.spans if s.name.startswith("fastapi.")]
    for span in features:
        assert span.parent_span_id in servers
        assert span.trace_id == servers[span.parent_span_id].trace_id


def test_the_users_own_counter_is_on_the_same_metrics_endpoint(served):
    _, metrics, _ = served
    assert "churn_customers_scored_total 2.0" in metrics
    assert "mlobs_http_request_duration_seconds_count" in metrics


def test_each_request_is_logged_once_under_plain_uvicorn(served):
    _, _, output = served
    json_lines = [orjson.loads(l) for l in output.splitlines() if l.startswith("{")]
    access = [l for l in json_lines if l.get("message") == "request" and l.get("route") == "/score"]
    assert len(access) == 2
    assert all(re.fullmatch(r"[0-9a-f]{32}", l["trace_id"]) for l in access)
    assert '"POST /score HTTP/1.1" 200' not in output  # uvicorn's own access line
