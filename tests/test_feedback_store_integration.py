"""Feedback through a shared store, from outside: two real sentiment services on one PostgreSQL database
or one SQLite file, predictions on one and labels on the other, a restart in between, claims racing from
both, and a database that hangs at start or in the middle of a run."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from urllib.parse import urlsplit

import httpx
import pytest

from support.postgres import pg_schema_url
from mlobs.feedback_store import TABLE
from mlobs.protect import hash_key
from protect.apps import ALICE_KEY, BOB_KEY, KEYS, auth
from protect.services import metric
from support.processes import ServiceProcess
from support.races import at_once
from support.tcp_gate import TcpGate

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CAROL_KEY = "mlobs_test-carol-Lb5Kd8HjWqEr2TyUi9Zx"


def environment(artifacts_dir, store_url: str) -> dict:
    keys = {**KEYS, "carol": hash_key(CAROL_KEY)}
    return {"MLOBS_ARTIFACTS_DIR": str(artifacts_dir), "MLOBS_ACCESS_LOG": "false", "MLOBS_AUDIT__ENABLED": "false",
            "MLOBS_PROTECT__AUTH": "required", "MLOBS_PROTECT__API_KEYS": json.dumps(keys),
            "MLOBS_PROTECT__ROLES": json.dumps({"carol": ["labeller"]}),
            "MLOBS_FEEDBACK__STORE_URL": store_url, "MLOBS_FEEDBACK__TIMEOUT_S": "1"}


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'feedback.db'}"
    return pg_schema_url(request.getfixturevalue("pg_server"))


def predict(service, key: str = ALICE_KEY) -> str:
    response = httpx.post(f"{service.url}/predict", json={"text": "a fine product"}, headers=auth(key))
    assert response.status_code == 200
    return response.json()["request_id"]


def feedback(service, request_id: str, key: str = ALICE_KEY) -> int:
    return httpx.post(f"{service.url}/feedback", json={"request_id": request_id, "label": "positive"},
                      headers=auth(key), timeout=10).status_code


def scored(service) -> float:
    return sum(metric(service.url, "mlobs_feedback_total", outcome=o) or 0.0 for o in ("correct", "incorrect"))


def rows(store_url: str) -> int:
    if store_url.startswith("sqlite"):
        with sqlite3.connect(urlsplit(store_url).path) as conn:
            return conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0]
    import psycopg

    with psycopg.connect(store_url) as conn:
        return conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0]


def written(store_url: str, n: int) -> bool:
    """Whether the writer threads have put `n` predictions in the store (they are written off the request path)."""
    try:
        return rows(store_url) >= n
    except Exception:
        return False  # the table is made by the first writer to connect


@contextlib.contextmanager
def started(*services):
    """Services started together (their start-up overlaps), stopped at the end."""
    try:
        for service in services:
            service.start()
        for service in services:
            service.wait_ready()
        yield services
    finally:
        for service in services:
            service.stop()


def race(services, request_id: str) -> list[int]:
    """Feedback for one prediction through each service at once, alice's and carol's."""
    with contextlib.ExitStack() as stack:
        calls = [(s, stack.enter_context(httpx.Client(headers=auth(k), timeout=10)))
                 for s in services for k in (ALICE_KEY, CAROL_KEY)]
        return at_once(lambda call: call[1].post(f"{call[0].url}/feedback", json={
            "request_id": request_id, "label": "positive"}).status_code, calls)


def test_a_label_reaches_its_prediction_on_another_replica_and_after_a_restart_and_counts_once(
        store_url, artifacts_dir, sentiment_model, tmp_path):
    env = environment(artifacts_dir, store_url)
    with started(ServiceProcess("sentiment", env, tmp_path / "one.log"),
                 ServiceProcess("sentiment", env, tmp_path / "other.log")) as (one, other):
        made = [predict(one) for _ in range(12)]
        bobs = predict(one, BOB_KEY)
        wait_until(lambda: written(store_url, 13))
        assert feedback(other, made[0]) == 200
        assert feedback(one, made[0]) == 409 and feedback(other, made[0]) == 409
        assert feedback(other, bobs) == 403  # alice's key: not her prediction
        assert feedback(other, bobs, CAROL_KEY) == 200  # a labeller's
        assert feedback(other, "0" * 32) == 404
        for request_id in made[1:11]:
            assert sorted(race((one, other), request_id)) == [200, 409, 409, 409]
        assert scored(one) + scored(other) == 12
        other.stop()
        with ServiceProcess("sentiment", env, tmp_path / "restarted.log") as restarted:
            assert feedback(restarted, made[11]) == 200
            assert feedback(restarted, made[0]) == 409
            assert scored(restarted) == 1


def dropped(service) -> float:
    return metric(service.url, "mlobs_telemetry_dropped_total", signal="feedback") or 0.0


def test_a_store_that_hangs_at_start_or_mid_run_costs_no_prediction_and_feedback_answers_503_in_time(
        pg_server, artifacts_dir, sentiment_model, tmp_path):  # noqa: F811
    url = urlsplit(pg_schema_url(pg_server))
    with TcpGate(url.port) as gate:
        gate.cut()  # down from the start
        gated = url._replace(netloc=f"{url.username}@127.0.0.1:{gate.port}").geturl()
        with ServiceProcess("sentiment", environment(artifacts_dir, gated), tmp_path / "service.log") as service:
            lost = predict(service)
            assert answered_within(service, lost, 3) == 503
            wait_until(lambda: dropped(service) > 0)
            gate.restore()  # the store comes back: new predictions reach it, the lost one stays lost
            kept = predict(service)
            wait_until(lambda: written(url.geturl(), 1), 30)
            assert feedback(service, kept) == 200
            assert feedback(service, lost) == 404
            gate.cut()  # and hangs in the middle of the run
            made = [predict(service) for _ in range(20)]
            assert answered_within(service, made[0], 3) == 503


def answered_within(service, request_id: str, seconds: float) -> int:
    start = time.monotonic()
    status = feedback(service, request_id)
    assert time.monotonic() - start < seconds
    return status


def wait_until(condition, seconds: float = 15) -> None:
    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, "the condition never held"
        time.sleep(0.1)
