"""The checks ask the right URLs and judge the answers (backends faked at the HTTP transport)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from mlobs.acceptance import checks
from mlobs.acceptance.checks import Backends

DATA = Path(__file__).parent / "data"
TRACE = "5b8efff798038103d269b633813fc700"


def backends(handler) -> Backends:
    b = Backends("http://prom", "http://am", "http://oncall", "http://grafana", grafana_token="t0k")
    b.client = httpx.Client(transport=httpx.MockTransport(handler), headers=b.client.headers)
    return b


def test_the_trace_is_fetched_from_tempo_through_grafanas_datasource_proxy_with_the_token():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=json.loads((DATA / "tempo_trace_v1.json").read_text()))

    result = checks.tempo_trace(backends(handler), [TRACE], deadline_s=0)
    assert result.ok and "1 spans from my.service" in result.detail
    assert seen[0].url.path == f"/api/datasources/proxy/uid/tempo/api/traces/{TRACE}"
    assert seen[0].headers["authorization"] == "Bearer t0k"


def test_a_trace_with_another_id_does_not_count():
    body = json.loads((DATA / "tempo_trace_v1.json").read_text())
    result = checks.tempo_trace(backends(lambda r: httpx.Response(200, json=body)), ["0" * 31 + "1"], deadline_s=0)
    assert not result.ok


def test_log_lines_are_looked_up_by_trace_id_on_the_label_loki_has():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=json.loads((DATA / "loki_query_range_streams.json").read_text()))

    result = checks.loki_logs(backends(handler), [TRACE], deadline_s=0)
    assert result.ok and "2 log lines" in result.detail and "vision" in result.detail
    assert seen[0].url.path == "/api/datasources/proxy/uid/loki/loki/api/v1/query_range"
    assert seen[0].url.params["query"] == f'{{service_name=~".+"}} |= "{TRACE}"'


def test_no_page_within_the_deadline_fails_with_what_was_missing():
    b = backends(lambda r: httpx.Response(200, json={"notifications": []}))
    result = checks.page(b, shift_at=0.0, deadline_s=0)
    assert not result.ok and "no firing EstimatedAccuracyDrop page" in result.detail


def test_a_page_is_reported_with_the_seconds_since_the_shift():
    note = {"received_at": 130.0, "alerts": [{"labels": {"alertname": "EstimatedAccuracyDrop", "model": "vision"}}]}
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"notifications": [note]})

    result = checks.page(backends(handler), shift_at=100.0, deadline_s=0)
    assert result.ok and "30 s after the shift" in result.detail
    assert seen[0].url.params["since"] == "100.0" and seen[0].url.params["severity"] == "page"


def test_a_page_from_before_the_shift_does_not_count_and_the_failure_says_why():
    old = {"received_at": 50.0, "alerts": [{"labels": {"alertname": "EstimatedAccuracyDrop"}}]}

    def handler(request: httpx.Request) -> httpx.Response:
        since = float(request.url.params.get("since", 0))
        return httpx.Response(200, json={"notifications": [n for n in [old] if n["received_at"] >= since]})

    result = checks.page(backends(handler), shift_at=100.0, deadline_s=0)
    assert not result.ok and "1 from before the shift" in result.detail


def _receiver_heartbeat_state(beats: int, timeout_s: float) -> dict:
    """GET /heartbeat as the real receiver answers it, after `beats` heartbeats (none: checked past the timeout)."""
    from fastapi.testclient import TestClient
    from prometheus_client import CollectorRegistry

    from mlobs.oncall.receiver import create_app
    from mlobs.settings import Settings
    from oncall.payloads import alert, message

    app = create_app(Settings(_env_file=None, oncall={"heartbeat_timeout_s": timeout_s}), CollectorRegistry())
    with TestClient(app) as client:
        for _ in range(beats):
            client.post("/heartbeat", json=message(alert("PagingHeartbeat", severity="heartbeat")))
        app.state.heartbeat.started_at -= 2 * timeout_s
        app.state.heartbeat.check()
        return client.get("/heartbeat").json()


def test_a_receiver_paging_that_the_paging_path_is_silent_fails_the_heartbeat_check_with_the_runbook():
    state = _receiver_heartbeat_state(beats=0, timeout_s=300)
    result = checks.heartbeat(backends(lambda r: httpx.Response(200, json=state)), deadline_s=0)
    assert not result.ok and "PagingPathSilent" in result.detail and "paging-path.md" in result.detail


def test_a_receiver_with_a_recent_heartbeat_passes_the_heartbeat_check():
    state = _receiver_heartbeat_state(beats=1, timeout_s=300)
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(200, json=state)

    result = checks.heartbeat(backends(handler), deadline_s=0)
    assert result.ok and "s ago" in result.detail and seen == ["/heartbeat"]
