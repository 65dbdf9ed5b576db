"""A refused caller cannot write an applicant's values into the credit service's security events.

Security events (a failed authentication, a throttled address) go to the JSON log and, in clear, into
the audit log, where no record can be erased. One `mlobs serve credit` process with authentication
required is sent requests whose paths name an applicant, with no key, a wrong key and, past the
throttle, from an address that failed too often.
"""

from __future__ import annotations

import json
import shutil

import httpx
import orjson
import pytest

from mlobs.audit import AuditLog
from mlobs.protect import hash_key
from mlobs.settings import Settings
from mlobs_services.credit import data
from support.processes import ServiceProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KEY = "mlobs_test-broker-Vb7Qm2Lk9Rt4Xw1Zp8Ns"
APPLICANT_ID = "SECCANARY-4R2M9"
EMAIL = "quillon.v4r2@canary.example"
NEEDLES = (APPLICANT_ID, EMAIL, "Quillon Vardemeer")
FAILURES_BEFORE_THROTTLE = 3


@pytest.fixture(scope="module")
def served(tmp_path_factory, artifacts_dir, credit_model):
    root = tmp_path_factory.mktemp("credit-secured")
    out = tmp_path_factory.mktemp("credit-secured-outputs")
    shutil.copytree(artifacts_dir / "credit", root / "artifacts" / "credit")
    env = {"MLOBS_ARTIFACTS_DIR": str(root / "artifacts"), "MLOBS_PROTECT__AUTH": "required",
           "MLOBS_PROTECT__API_KEYS": json.dumps({"broker": hash_key(KEY)}),
           "MLOBS_PROTECT__AUTH_FAILURES_PER_ADDRESS": str(FAILURES_BEFORE_THROTTLE)}
    row = data.generate(1, seed=5)[0]
    application = {"applicant_id": APPLICANT_ID, "personal": {**row["personal"], "email": EMAIL,
                                                             "name": "Quillon Vardemeer"},
                   "features": row["features"]}
    statuses = []
    with ServiceProcess("credit", env, out / "stdout.log") as service:
        with httpx.Client(base_url=service.url, timeout=10) as client:
            statuses.append(client.post("/predict", json=application, headers={"x-api-key": KEY}).status_code)
            statuses.append(client.post(f"/applicants/{APPLICANT_ID}/decision", json=application).status_code)
            statuses.append(client.get(f"/decisions/{EMAIL}", headers={"x-api-key": "wrong"}).status_code)
            statuses.append(client.post("/predict", json=application, headers={"x-api-key": "wrong"}).status_code)
            statuses.append(client.get(f"/applicants/{APPLICANT_ID}").status_code)  # throttled by now
    # Stopped: the log writer and the audit writer have flushed.
    settings = Settings(artifacts_dir=root / "artifacts", _env_file=None)
    with AuditLog.open(settings) as log:
        security = [r["details"] for r in log.query(event_type="security")]
    logged = [orjson.loads(line) for line in (out / "stdout.log").read_bytes().splitlines() if line.startswith(b"{")]
    return {"root": root, "statuses": statuses, "security": security, "stdout": (out / "stdout.log").read_bytes(),
            "events": [line for line in logged if line.get("message") == "security event"]}


def test_the_callers_without_a_valid_key_are_refused_and_then_throttled(served):
    assert served["statuses"] == [200, 401, 401, 401, 429]


def test_a_security_event_names_a_path_the_service_serves_and_no_path_a_caller_typed(served):
    assert [(e["event"], e["path"]) for e in served["events"]] == [
        ("auth_failure", "unmatched"), ("auth_failure", "unmatched"), ("auth_failure", "/predict"),
        ("auth_throttled", "unmatched")]
    assert [(d["kind"], d["path"]) for d in served["security"]] == [(e["event"], e["path"]) for e in served["events"]]


def test_no_log_line_audit_record_or_file_holds_the_applicant_a_refused_path_named(served):
    assert [n for n in NEEDLES if n.encode() in served["stdout"]] == []
    assert [n for n in NEEDLES if n in str(served["security"])] == []
    files = {str(p.relative_to(served["root"])): [n for n in NEEDLES if n.encode() in p.read_bytes()]
             for p in served["root"].rglob("*") if p.is_file()}
    assert {path: hits for path, hits in files.items() if hits} == {}
