"""The credit service whose audit volume stops answering (an NFS server gone): every call under it blocks
for as long as it is down. The service keeps answering: probes and scrapes at once, decisions with a 503
within their timeout, and decisions are recorded again once the volume is back. A real hung filesystem
(FUSE) over the directory of the log and its keys, a real service process."""

from __future__ import annotations

import math
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from support.hung_volume import hung_volume
from support.processes import ServiceProcess

from mlobs import catalog
from mlobs_services.credit import data

pytestmark = [pytest.mark.integration, pytest.mark.slow]

APPEND_TIMEOUT_S = 1.0


def volume_gauges(client: httpx.Client) -> dict[str, float]:
    response = client.get("/metrics", timeout=3)
    assert response.status_code == 200
    for family in text_string_to_metric_families(response.text):
        if family.name == catalog.AUDIT_VOLUME_FREE.name:
            return {s.labels[catalog.STORE]: s.value for s in family.samples}
    return {}


def decide(client: httpx.Client, i: int) -> int:
    row = data.generate(1, seed=i)[0]
    body = {"applicant_id": f"applicant-{i}", "personal": row["personal"], "features": row["features"]}
    return client.post("/predict", json=body, timeout=APPEND_TIMEOUT_S + 4).status_code


def test_a_hung_audit_volume_leaves_probes_scrapes_and_refusals_prompt_and_decisions_resume_once_it_answers(
        tmp_path, credit_model, artifacts_dir):
    audit = tmp_path / "audit"
    audit.mkdir()
    env = {"MLOBS_ARTIFACTS_DIR": str(artifacts_dir), "MLOBS_AUDIT__STORE_URL": f"sqlite:///{audit / 'audit.db'}",
           "MLOBS_AUDIT__KEYS_DIR": str(audit / "keys"),
           "MLOBS_AUDIT__SUBJECT_KEYS_PATH": str(audit / "keys" / "subject_keys.db"),
           "MLOBS_AUDIT__APPEND_TIMEOUT_S": str(APPEND_TIMEOUT_S)}
    with ServiceProcess("credit", env, tmp_path / "credit.log") as service, \
            httpx.Client(base_url=service.url) as client:
        assert decide(client, 0) == 200
        assert volume_gauges(client)["log"] > 0

        with hung_volume(audit):
            for _ in range(3):
                started = time.monotonic()
                assert client.get("/healthz", timeout=3).status_code == 200
                assert all(math.isnan(free) for free in volume_gauges(client).values())
                assert decide(client, 1) == 503
                assert time.monotonic() - started < APPEND_TIMEOUT_S + 2, service.log_tail()

        deadline = time.monotonic() + 15
        while decide(client, 2) != 200:
            assert time.monotonic() < deadline, service.log_tail()
            time.sleep(0.2)
        assert volume_gauges(client)["log"] > 0


def test_a_hung_checkpoint_mirror_volume_costs_no_decision_and_the_mirror_catches_up_once_it_answers(
        tmp_path, credit_model, artifacts_dir):
    audit, mirror = tmp_path / "audit", tmp_path / "mirror"
    audit.mkdir()
    mirror.mkdir()
    env = {"MLOBS_ARTIFACTS_DIR": str(artifacts_dir), "MLOBS_AUDIT__STORE_URL": f"sqlite:///{audit / 'audit.db'}",
           "MLOBS_AUDIT__KEYS_DIR": str(audit / "keys"),
           "MLOBS_AUDIT__SUBJECT_KEYS_PATH": str(audit / "keys" / "subject_keys.db"),
           "MLOBS_AUDIT__CHECKPOINT_MIRROR": str(mirror / "checkpoints.jsonl"),
           "MLOBS_AUDIT__CHECKPOINT_INTERVAL_S": "0.2", "MLOBS_AUDIT__APPEND_TIMEOUT_S": str(APPEND_TIMEOUT_S)}
    with ServiceProcess("credit", env, tmp_path / "credit.log") as service, \
            httpx.Client(base_url=service.url) as client:
        mirrored = mirror / "checkpoints.jsonl"
        assert decide(client, 0) == 200
        wait_until(lambda: lines(mirrored) > 0, service)
        before = lines(mirrored)
        with hung_volume(mirror):  # nothing here may touch the mirror's path: it would hang the test too
            until = time.monotonic() + 3 * APPEND_TIMEOUT_S
            answers = [decide(client, i) for i in range(1, 1000) if time.monotonic() < until]
            assert set(answers) == {200}, service.log_tail()
            assert math.isnan(volume_gauges(client)["mirror"])
        # Each round decides once more: checkpoints are signed over new records, and those the mirror's
        # volume refused when it went away (ENOTCONN) are gone; the next ones must reach it.
        wait_until(lambda: decide(client, 2000) == 200 and lines(mirrored) > before, service)


def lines(path) -> int:
    return len(path.read_bytes().splitlines()) if path.exists() else 0


def wait_until(condition, service, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, service.log_tail()
        time.sleep(0.2)
