"""The credit service whose audit log's PostgreSQL server stops answering mid-run (a network partition, a
hung host): the connections stay up and nothing comes back on them. The service keeps answering: probes
and scrapes at once, decisions with a 503 within their timeout; once the server answers again, decisions
are recorded again, although every connection the partition caught stays dead. A real PostgreSQL server
behind a proxy that black-holes it, a real service process."""

from __future__ import annotations

import time

import httpx
import pytest
from support.blackhole import SWALLOW, Blackhole
from support.postgres import postgres_cluster
from support.processes import ServiceProcess

from mlobs_services.credit import data

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # a service process each; libpq connects within 2 s at least

APPEND_TIMEOUT_S = 0.5
STORE_TIMEOUT_S = 0.5
WITNESS_TOKEN = "w" * 32


@pytest.fixture(scope="module")
def postgres():
    with postgres_cluster() as url:
        yield url


def env_for(tmp_path, artifacts_dir, store_url: str) -> dict:
    return {"MLOBS_ARTIFACTS_DIR": str(artifacts_dir), "MLOBS_AUDIT__STORE_URL": store_url,
            "MLOBS_AUDIT__KEYS_DIR": str(tmp_path / "keys"),
            "MLOBS_AUDIT__SUBJECT_KEYS_PATH": str(tmp_path / "keys" / "subject_keys.db"),
            "MLOBS_AUDIT__APPEND_TIMEOUT_S": str(APPEND_TIMEOUT_S),
            "MLOBS_AUDIT__STORE_TIMEOUT_S": str(STORE_TIMEOUT_S), "MLOBS_AUDIT__WITNESS_TOKEN": WITNESS_TOKEN}


def decide(client: httpx.Client, i: int) -> int:
    row = data.generate(1, seed=i)[0]
    body = {"applicant_id": f"applicant-{i}", "personal": row["personal"], "features": row["features"]}
    return client.post("/predict", json=body, timeout=APPEND_TIMEOUT_S + 4).status_code


def test_a_partitioned_audit_database_costs_refusals_within_the_append_timeout_and_decisions_resume_once_it_heals(
        postgres, tmp_path, credit_model, artifacts_dir):
    with Blackhole.before(postgres) as proxy, \
            ServiceProcess("credit", env_for(tmp_path, artifacts_dir, proxy.via(postgres)),
                           tmp_path / "credit.log") as service, \
            httpx.Client(base_url=service.url) as client:
        assert decide(client, 0) == 200

        proxy.partition()
        for i in range(2):
            started = time.monotonic()
            assert client.get("/healthz", timeout=3).status_code == 200
            assert client.get("/metrics", timeout=3).status_code == 200
            assert decide(client, 1 + i) == 503
            assert time.monotonic() - started < APPEND_TIMEOUT_S + 2, service.log_tail()
        started = time.monotonic()  # a witness asking meanwhile is told to come back (connecting takes 2 s at least)
        assert client.get("/audit/checkpoint", headers={"authorization": f"Bearer {WITNESS_TOKEN}"},
                          timeout=5).status_code == 503
        assert time.monotonic() - started < 2 + 1

        proxy.heal()
        deadline = time.monotonic() + 20
        while decide(client, 10) != 200:
            assert time.monotonic() < deadline, service.log_tail()
            time.sleep(0.2)
        assert all(decide(client, 11 + i) == 200 for i in range(3))


def test_a_credit_service_whose_audit_database_never_answers_fails_to_start_saying_so(
        postgres, tmp_path, credit_model, artifacts_dir):
    with Blackhole(mode=SWALLOW) as proxy:
        service = ServiceProcess("credit", env_for(tmp_path, artifacts_dir, proxy.via(postgres)),
                                 tmp_path / "credit.log")
        service.start()
        try:
            assert service.process.wait(60) != 0
        finally:
            service.stop()
        assert f"PostgreSQL at 127.0.0.1:{proxy.port} did not answer" in service.log_tail(), service.log_tail()
