from __future__ import annotations

import json
import sqlite3
import time

import pytest
from fastapi.testclient import TestClient

from mlobs.audit import AuditLog
from mlobs_services.credit import data
from mlobs_services.credit.service import create_app

CANARY = "Canary-Quetzalcoatl-4417"


@pytest.fixture
def audited_settings(settings, tmp_path):
    return settings.model_copy(update={"audit": settings.audit.model_copy(update={
        "store_url": f"sqlite:///{tmp_path / 'audit.db'}", "keys_dir": tmp_path / "keys",
        "subject_keys_path": tmp_path / "keys" / "subject_keys.db",
        "checkpoint_interval_s": 0.2})})  # the tests that wait for a signed head wait less


@pytest.fixture
def service(audited_settings, sinks, credit_model):
    app = create_app(audited_settings, configure_logging=False, **sinks.kwargs())
    with TestClient(app) as client:
        yield client, app.state.telemetry
    # leaving the client ran shutdown: the audit log is closed and can be opened by the test


def application(i: int = 0, **features) -> dict:
    row = data.generate(50, seed=99)[i]
    return {"applicant_id": row["applicant_id"], "personal": row["personal"],
            "features": {**row["features"], **features}}


def risky() -> dict:
    return application(
        debt_to_income=0.85, num_delinquencies=6, income=15_000, loan_amount=40_000, employment_type="unemployed",
        credit_history_years=0.5)


def open_log(settings) -> AuditLog:
    return AuditLog.open(settings)


def test_a_risky_application_is_declined_with_reason_codes(service):
    client, _ = service
    body = client.post("/predict", json=risky()).json()
    assert body["decision"] == "decline"
    assert 300 <= body["score"] < 600
    codes = [r["code"] for r in body["reasons"]]
    assert "R01" in codes and "R02" in codes and all(r["description"] for r in body["reasons"])
    assert len(body["decision_id"]) == 32


def test_a_safe_application_is_approved_without_reasons(service):
    client, _ = service
    body = client.post("/predict", json=application(debt_to_income=0.05, num_delinquencies=0, income=120_000,
                                                    loan_amount=5_000, credit_history_years=20)).json()
    assert body["decision"] == "approve" and body["reasons"] == []


def test_every_answered_decision_is_in_the_audit_log_under_a_pseudonym(service, audited_settings):
    client, _ = service
    app_body = risky()
    answer = client.post("/predict", json=app_body).json()
    client.close()
    with open_log(audited_settings) as log:
        records = log.query(subject=app_body["applicant_id"])
        assert [r["decision_id"] for r in records] == [answer["decision_id"]]
        record = records[0]
        assert record["model_version"] == answer["model_version"] and record["outcome"] == "decline"
        assert record["reason_codes"] == [r["code"] for r in answer["reasons"]]
        assert app_body["applicant_id"] not in json.dumps(record)
        assert "age" not in record["inputs"] and record["inputs"]["age_band"].endswith("0s")
        assert log.verify().ok


def test_a_canary_personal_value_never_reaches_logs_spans_metrics_or_the_long_term_log(service, sinks,
                                                                                       audited_settings):
    client, telemetry = service
    body = application()
    body["personal"]["name"] = CANARY
    body["applicant_id"] = CANARY
    assert client.post("/predict", json=body).status_code == 200
    bad = {**body, "features": {**body["features"], "income": -5}}
    assert client.post("/predict", json=bad).status_code == 422
    telemetry.flush()
    metrics = client.get("/metrics", headers={"Accept": "application/openmetrics-text"}).text
    spans = json.dumps([json.loads(s.to_json()) for s in sinks.spans.get_finished_spans()])
    logs = sinks.log_stream.getvalue().decode()
    client.close()
    db = sqlite3.connect(audited_settings.audit.store_url.removeprefix("sqlite:///"))
    long_term = json.dumps([[bytes(c).decode("latin-1") if isinstance(c, bytes) else c for c in row]
                            for row in db.execute("SELECT * FROM audit_records")])
    headers = [json.loads(h) for (h,) in db.execute("SELECT header FROM audit_records")]
    assert "request" in logs and "inference" in spans and headers[0][2] == "decision"  # the sinks got data
    for sink in (logs, spans, metrics, long_term):
        assert CANARY not in sink


def test_when_the_audit_log_cannot_record_the_decision_is_refused_with_503(service, sinks):
    client, _ = service
    client.app.state.decisions.close()  # the audit log is gone: closed under the service
    response = client.post("/predict", json=application())
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "audit_unavailable"
    assert response.headers["retry-after"]


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"features": {"income": -1}}, "out_of_range"),
        ({"features": {"loan_purpose": "yacht"}}, "unknown_category"),
        ({"applicant_id": ""}, "empty"),
        ({"personal": {"email": "not-an-email"}}, "invalid_format"),
        ({"personal": {"date_of_birth": "yesterday"}}, "wrong_type"),
        ({"features": {"surname": "x"}}, "unknown_field"),
        ({"features": {"age": "old"}}, "wrong_type"),
    ],
)
def test_bad_applications_get_a_clear_4xx_counted_by_reason(service, sinks, credit_model, change, reason):
    client, _ = service
    body = application()
    for key, value in change.items():
        body[key] = {**body[key], **value} if isinstance(value, dict) else value
    response = client.post("/predict", json=body)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == reason
    labels = {"service": "credit", "model": "credit", "model_version": credit_model.version, "reason": reason}
    assert sinks.sample("mlobs_rejected_inputs_total", labels) == 1


def test_the_answer_carries_a_receipt_that_an_inclusion_proof_confirms(service, audited_settings):
    from mlobs.audit.checkpoint_note import open_checkpoint
    from mlobs.audit.verification.proofs import check_bundle, make_bundle
    from mlobs.audit.storage.tree_store import open_reader

    client, _ = service
    answers = [client.post("/predict", json=application(i)).json() for i in range(3)]
    assert [a["audit"]["leaf_index"] for a in answers] == [0, 1, 2]
    reader, close = open_reader(audited_settings.audit.store_url)
    try:
        deadline = time.monotonic() + 10  # the log signs its quiet tail within checkpoint_interval_s
        while reader.note_covering(3) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        bundle = make_bundle(reader, answers[1]["decision_id"], sqlite=True)
    finally:
        close()
    client.close()
    with open_log(audited_settings) as log:
        result = check_bundle(bundle, log.signer.public)
        assert open_checkpoint(bundle["checkpoint"], log.signer.public).size == 3
    assert result.leaf_index == answers[1]["audit"]["leaf_index"]
    assert bundle["record_hash"] == answers[1]["audit"]["record_hash"]


def test_a_log_truncated_under_the_running_service_is_refused_with_503_and_counted(service, audited_settings):
    from prometheus_client import generate_latest

    client, telemetry = service
    for i in range(3):
        assert client.post("/predict", json=application(i)).status_code == 200
    path = audited_settings.audit.store_url.removeprefix("sqlite:///")
    deadline = time.monotonic() + 10  # wait for the signed head over the three decisions
    while time.monotonic() < deadline:
        with sqlite3.connect(path) as conn:
            if conn.execute("SELECT count(*) FROM audit_tree_heads WHERE size = 3").fetchone()[0]:
                break
        time.sleep(0.05)
    conn = sqlite3.connect(path, isolation_level=None)
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f"DROP TRIGGER {name}")
    conn.execute("DELETE FROM audit_records WHERE seq > 1")
    conn.close()
    response = client.post("/predict", json=application(4))
    assert response.status_code == 503 and response.json()["error"]["code"] == "audit_unavailable"
    assert client.post("/predict", json=application(5)).status_code == 503
    exposition = generate_latest(telemetry.registry).decode()
    assert any(line.startswith("mlobs_audit_integrity_failures_total{") and not line.endswith(" 0.0")
               for line in exposition.splitlines())
