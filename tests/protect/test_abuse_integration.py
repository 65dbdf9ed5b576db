"""Abuse from outside against running services: forged log lines, key guessing, credential
confusion, and a model-extraction sweep hidden by re-encoding."""

from __future__ import annotations

import time

import httpx
import orjson
import pytest

from mlobs.audit import AuditLog
from mlobs.audit.settings import AuditSettings
from protect.apps import ALICE_KEY, BOB_KEY, auth
from protect.raw import exchange, status_of
from protect.services import audited, metric, serve

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FORGED = b"/%20client=alice%20reason=ok%0d%0aX"


def log_lines(path) -> list[dict]:
    lines = []
    for raw in path.read_bytes().splitlines():
        if raw.startswith(b"{"):
            lines.append(orjson.loads(raw))
    return lines


@pytest.fixture(scope="module")
def credit(tmp_path_factory, artifacts_dir, credit_model):
    workdir = tmp_path_factory.mktemp("abuse-credit")
    service = serve("credit", artifacts_dir, workdir / "service.log", env=audited(workdir))
    with service:
        yield service, workdir
    # stopped: the audit log can be opened by the test that reads it


@pytest.fixture(scope="module")
def sentiment(tmp_path_factory, artifacts_dir, sentiment_model):
    with serve("sentiment", artifacts_dir, tmp_path_factory.mktemp("abuse-sentiment") / "service.log") as running:
        yield running


def test_a_path_full_of_fields_and_crlf_forges_nothing_in_the_security_log_or_the_audit_log(credit, tmp_path):
    service, workdir = credit
    rtl = b"/%E2%80%AEevil=1%22quoted%22"  # decoded: a right-to-left mark, key=value, quotes
    for target in (FORGED, rtl):
        request = b"POST " + target + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\n" \
                  b"Content-Length: 2\r\nConnection: close\r\n\r\n{}"
        assert status_of(exchange(service.port, request)) == 401
    time.sleep(1.5)  # the log writer and the audit writer are asynchronous
    raw_log = service.log_path.read_bytes()
    assert b"\r\nX" not in raw_log and b"\nX" not in raw_log.replace(b"\r\n", b"\n")
    assert not any(line.startswith(b"X") for line in raw_log.splitlines())
    events = [line for line in log_lines(service.log_path) if line.get("message") == "security event"]
    paths = [e["path"] for e in events]
    assert paths == ["unmatched", "unmatched"]  # no route serves them: what the caller typed is not recorded
    for event in events:
        assert event["event"] == "auth_failure" and event["reason"] == "invalid"
        assert "client" not in event  # no field was forged out of the path
    service.stop()
    audit = AuditSettings(store_url=f"sqlite:///{workdir / 'audit.db'}", keys_dir=workdir / "keys")
    with AuditLog.open(audit, base_dir=workdir) as log:
        records = log.query(event_type="security")
    details = [r["details"] for r in records]
    assert {d["path"] for d in details} >= set(paths)
    assert all("\r" not in str(d) and "\n" not in str(d) and "\u202e" not in str(d) for d in details)
    assert all(set(d) == {"kind", "reason", "method", "path"} for d in details)


def test_basic_auth_for_a_proxy_does_not_hide_a_valid_api_key(sentiment):
    headers = {"authorization": "Basic dXNlcjpwYXNz", "x-api-key": ALICE_KEY}
    response = httpx.post(f"{sentiment.url}/predict", json={"text": "fine"}, headers=headers)
    assert response.status_code == 200, response.text


def test_a_valid_key_wins_over_an_invalid_one_in_the_other_header(sentiment):
    headers = {"authorization": "Bearer not-a-key", "x-api-key": ALICE_KEY}
    assert httpx.post(f"{sentiment.url}/predict", json={"text": "fine"}, headers=headers).status_code == 200


def test_valid_keys_of_two_clients_in_one_request_are_refused_as_conflicting(sentiment):
    headers = {"authorization": f"Bearer {ALICE_KEY}", "x-api-key": BOB_KEY}
    response = httpx.post(f"{sentiment.url}/predict", json={"text": "fine"}, headers=headers)
    assert response.status_code == 401
    assert metric(sentiment.url, "mlobs_auth_failures_total", reason="conflicting") >= 1


def test_re_encoded_repeats_count_as_the_inputs_they_are_and_a_sweep_as_many(sentiment):
    variants = ["the food was great", "The food  was GREAT", " the\tfood was great\n", "the fo\u200bod was great",
                "ｔｈｅ food was great"]
    with httpx.Client(base_url=sentiment.url, headers=auth(), timeout=30) as client:
        for i in range(200):  # alice: 10 texts, each re-encoded many ways
            base = f"review number {i % 10} " + variants[i % len(variants)]
            assert client.post("/predict", json={"text": base}).status_code == 200
        bob = {"authorization": f"Bearer {BOB_KEY}"}
        for i in range(40):  # bob: a sweep, every input new
            batch = [f"probe {i} {j} {'good' if j % 2 else 'bad'}" for j in range(50)]
            assert client.post("/predict", json={"texts": batch}, headers=bob).status_code == 200
    alice = metric(sentiment.url, "mlobs_client_distinct_inputs", client="alice")
    bob_distinct = metric(sentiment.url, "mlobs_client_distinct_inputs", client="bob")
    assert alice <= 15  # 10 inputs, HyperLogLog error included
    assert 1700 <= bob_distinct <= 2300  # 2,000 inputs
    assert metric(sentiment.url, "mlobs_client_input_diversity", client="bob") > 0.85


def test_key_guessing_from_one_address_is_throttled_and_then_let_through_again(tmp_path, artifacts_dir,
                                                                               sentiment_model):
    with serve("sentiment", artifacts_dir, tmp_path / "service.log", auth_failures_per_address=5,
               auth_failure_window_s=2) as service:
        with httpx.Client(base_url=service.url, timeout=10) as client:
            statuses = [client.post("/predict", json={"text": "x"}, headers=auth(f"guess-{i}")).status_code
                        for i in range(50)]
            valid_while_throttled = client.post("/predict", json={"text": "x"}, headers=auth())
            time.sleep(2.5)
            valid_after = client.post("/predict", json={"text": "x"}, headers=auth())
            throttled = metric(service.url, "mlobs_auth_failures_total", reason="throttled")
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}
    assert valid_while_throttled.status_code == 429 and valid_while_throttled.headers["retry-after"]
    assert valid_after.status_code == 200
    assert throttled >= 46
