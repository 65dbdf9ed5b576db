"""The credit service on a volume that fills up: decisions are refused, none acknowledged is lost, and
they resume by themselves once there is room. A real filesystem of a few megabytes (tmpfs)."""

from __future__ import annotations

import math
import time
import uuid

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from support.small_volume import fill, small_volume

from mlobs import catalog
from mlobs.audit import AuditLog
from mlobs.audit.errors import AuditError
from mlobs_services.credit import data
from mlobs_services.credit.service import create_app

VOLUME = "16m"
LEFT_FREE = 192 * 1024  # bytes left beside the filler: a few dozen decisions


@pytest.fixture
def volume(tmp_path):
    with small_volume(tmp_path / "volume", VOLUME) as mount:
        yield mount


def metric(client, name: str, **labels) -> float:
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return math.nan


def application(i: int) -> dict:
    row = data.generate(1, seed=i)[0]
    return {"applicant_id": f"applicant-{uuid.uuid4().hex}", "personal": row["personal"], "features": row["features"]}

def audited_on(settings, log_dir, keys_dir, **audit):
    """The settings with the audit log in `log_dir` and every key in `keys_dir`."""
    return settings.model_copy(update={"audit": settings.audit.model_copy(update={
        "store_url": f"sqlite:///{log_dir / 'audit.db'}", "keys_dir": keys_dir,
        "subject_keys_path": keys_dir / "subject_keys.db", **audit})})



def test_a_full_volume_refuses_decisions_loses_none_acknowledged_and_they_resume_once_there_is_room(
        settings, sinks, credit_model, volume):
    audited = audited_on(settings, volume, volume / "keys", checkpoint_interval_s=0.2)
    app = create_app(audited, configure_logging=False, **sinks.kwargs())
    answered, refused = [], 0
    with TestClient(app) as client:
        assert client.post("/predict", json=application(0)).status_code == 200
        fill(volume, LEFT_FREE)
        for i in range(1, 3000):
            response = client.post("/predict", json=application(i))
            if response.status_code == 200:
                answered.append(response.json()["decision_id"])
            else:
                assert response.status_code == 503, response.text
                refused += 1
                if refused >= 5:
                    break
        assert refused >= 5, f"the volume never filled: {len(answered)} decisions answered"
        assert metric(client, catalog.AUDIT_UNAVAILABLE.total, service="credit") >= 5
        assert metric(client, catalog.AUDIT_VOLUME_FREE.name, store="log") < LEFT_FREE

        (volume / "filler").unlink()
        resumed = [client.post("/predict", json=application(5000 + i)) for i in range(20)]
        assert [r.status_code for r in resumed] == [200] * 20
        answered += [r.json()["decision_id"] for r in resumed]
        assert metric(client, catalog.AUDIT_VOLUME_FREE.name, store="log") > 8 * 2**20

    audit = AuditLog.open(audited)
    try:
        assert audit.verify().ok
        kept = {r["decision_id"] for r in audit.query(event_type="decision", limit=100_000)}
    finally:
        audit.close()
    assert set(answered) <= kept


def test_a_full_keys_volume_refuses_decisions_and_none_refused_is_in_the_log(settings, sinks, credit_model, tmp_path):
    """Returning applicants need no new key, so their decisions still commit while the keys volume is full;
    a tree head signed in such a commit cannot be kept beside the signing key. Whatever is answered 503
    must not be in the log, or a caller's retry records one application twice."""
    with small_volume(tmp_path / "keys", "1m") as keys:
        audited = audited_on(settings, tmp_path, keys, checkpoint_interval_s=0.05)
        app = create_app(audited, configure_logging=False, **sinks.kwargs())
        applicants = [application(i) for i in range(5)]
        answered = []
        with TestClient(app) as client:
            for body in applicants:
                assert client.post("/predict", json=body).status_code == 200
            fill(keys)
            statuses = []
            for i in range(60):
                response = client.post("/predict", json=applicants[i % 5])
                statuses.append(response.status_code)
                if response.status_code == 200:
                    answered.append(response.json()["decision_id"])
                time.sleep(0.01)  # checkpoints come due between decisions, and are signed in their commits
            assert 503 in statuses, "the full keys volume refused nothing"
            (keys / "filler").unlink()
            resumed = client.post("/predict", json=applicants[0])
            assert resumed.status_code == 200
            answered.append(resumed.json()["decision_id"])

        audit = AuditLog.open(audited)
        try:
            assert audit.verify().ok
            recorded = [r["decision_id"] for r in audit.query(event_type="decision", limit=100_000)]
        finally:
            audit.close()
        assert len(recorded) == 5 + len(answered), f"{len(recorded) - 5 - len(answered)} refused decisions recorded"
        assert set(answered) <= set(recorded)


def test_a_service_started_on_a_full_log_volume_is_refused_with_a_message_naming_the_log_and_its_free_space(
        settings, sinks, credit_model, volume):
    """The service cannot serve /metrics then, so its disk gauges are gone: the start's own error must say it."""
    audited = audited_on(settings, volume, volume / "keys")
    with TestClient(create_app(audited, configure_logging=False, **sinks.kwargs())) as client:
        assert client.post("/predict", json=application(0)).status_code == 200
    fill(volume)

    with pytest.raises(AuditError, match=rf"{volume / 'audit.db'} cannot be opened: .*; \d+ bytes free on its volume"):
        create_app(audited, configure_logging=False, **sinks.kwargs())


def test_a_service_started_with_its_subject_keys_on_a_full_volume_is_refused_with_a_message_naming_them(
        settings, sinks, credit_model, volume, tmp_path):
    audited = audited_on(settings, tmp_path / "log", volume / "keys")
    with TestClient(create_app(audited, configure_logging=False, **sinks.kwargs())) as client:
        assert client.post("/predict", json=application(0)).status_code == 200
    fill(volume)

    with pytest.raises(AuditError, match=rf"{volume / 'keys'}/subject_keys[-a-z]*\.db cannot be opened: .*; "
                                         r"\d+ bytes free on its volume"):
        create_app(audited, configure_logging=False, **sinks.kwargs())
