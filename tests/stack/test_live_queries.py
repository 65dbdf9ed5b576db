"""After traffic through the native stack, every query the stack ships runs on the live Prometheus, and every
dashboard query returns data."""

from __future__ import annotations

import time

import pytest

from mlobs.local.prometheus import PrometheusError
from mlobs.local.queries import dashboard_queries, rule_queries
from mlobs.local.stack import LocalStack, Options

pytestmark = pytest.mark.integration

# Dashboard queries that may legitimately be empty on a healthy, young stack, and why.
# Queries allowed to return nothing, with why. Empty: every dashboard query must return data
# (Loki and Tempo panels are not PromQL and are not counted).
MAY_BE_EMPTY: dict[str, str] = {}
DATA_TIMEOUT_S = 150


def _expected_empty(expr: str) -> bool:
    return any(marker in expr for marker in MAY_BE_EMPTY)


@pytest.fixture(scope="module")
def stack(tmp_path_factory, artifacts_dir):
    options = Options(workdir=tmp_path_factory.mktemp("local-stack"), artifacts_dir=artifacts_dir, ports_base=0,
                      rate=8.0, traffic_seconds=600.0, scenario_delay=25.0, interval="1s", drift_window=50)
    with LocalStack(options) as running:
        yield running


def _empty(prometheus, queries) -> list:
    return [q for q in queries if not prometheus.query(q.expr)]


def test_every_dashboard_query_returns_data_and_every_rule_runs(stack):
    prometheus = stack.prometheus
    dashboard = dashboard_queries()
    must_have_data = [q for q in dashboard if not _expected_empty(q.expr)]
    deadline = time.monotonic() + DATA_TIMEOUT_S
    empty = must_have_data
    while empty and time.monotonic() < deadline:
        time.sleep(3)
        assert not stack.failed(), f"stack processes exited: {stack.failed()}"
        empty = _empty(prometheus, empty)
    assert not empty, "dashboard queries without data:\n" + "\n".join(f"{q.source}: {q.expr}" for q in empty)

    errors = []
    for query in dashboard + rule_queries():
        try:
            prometheus.query(query.expr)
        except PrometheusError as exc:
            errors.append(f"{query.source}: {exc}")
    assert not errors, "\n".join(errors)
    print(f"\nchecked {len(dashboard)} dashboard queries ({len(must_have_data)} with data) "
          f"and {len(rule_queries())} rule expressions live")


def test_prometheus_loads_and_evaluates_every_generated_rule_without_error(stack):
    groups = stack.prometheus.api("rules")["groups"]
    rules = [r for g in groups for r in g["rules"]]
    names = {r["name"] for r in rules}
    assert {q.source.split(" ", 1)[1] for q in rule_queries() if q.source.startswith("alert ")} <= names
    unhealthy = [f"{r['name']}: {r.get('lastError')}" for r in rules if r.get("health") == "err"]
    assert not unhealthy, "\n".join(unhealthy)
    assert len(rules) == len(rule_queries())


def test_the_exporter_and_the_receiver_refuse_anyone_without_the_runs_tokens(stack):
    import httpx

    from mlobs.local.stack import EXPORTER, ONCALL

    sample = {"service": "vision", "model": "vision", "model_version": "forged", "samples": [{"probs": [1.0]}]}
    page = {"status": "firing", "alerts": [{"status": "firing", "labels": {"alertname": "Forged"}}]}
    for url, body in ((f"{stack.services[EXPORTER].url}/ingest", sample),
                      (f"{stack.services[ONCALL].url}/alerts?severity=page", page)):
        for headers in ({}, {"authorization": "Bearer wrong"}):
            assert httpx.post(url, json=body, headers=headers, timeout=5).status_code == 401, (url, headers)
    pages = httpx.get(f"{stack.services[ONCALL].url}/pages", timeout=5).json()
    assert "Forged" not in str(pages)
