"""An applicant's personal values never leave the running credit service by its telemetry.

One `mlobs serve credit` process, logging at DEBUG, exporting spans, metrics and logs by OTLP and
shipping samples to a drift sink, is sent decisions carrying canary values, malformed ones carrying
them too, and requests that put them where a careless or hostile caller would (a path, trace
headers). Every output is then searched for the canaries byte by byte, before and after
`mlobs audit forget`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from mlobs.audit.keys.pseudonym import Keyring
from mlobs.audit.keys.subject_map import mapping_names
from mlobs.local.ports import free_port
from mlobs_services.credit import data
from mlobs_services.credit import model as credit
from support.drift_sink import DriftSink
from support.otlp import OtlpSink, attributes
from support.processes import ServiceProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]

APPLICANT_ID = "PIICANARY-7Q81X"
CANARY = {"applicant_id": APPLICANT_ID, "name": "Zoltana Quibblewick", "email": "zoltana.q7781@canary.example",
          "postcode": "QZ7 8XQ", "income": "123457.8", "loan_amount": "23456.7"}
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
# The applicants `mlobs traffic` sends (mlobs_services.credit.data): ids A<seed><index>, emails at example.org.
TRAFFIC_APPLICANT = re.compile(rb"A\d{10}|[a-z.]+\d+@example\.org")


def application() -> dict:
    row = data.generate(1, seed=5)[0]
    personal = {**row["personal"], **{k: CANARY[k] for k in ("name", "email", "postcode")}}
    return {"applicant_id": APPLICANT_ID, "personal": personal,
            "features": {**row["features"], "income": 123457.89, "loan_amount": 23456.78}}


def leaks(content: bytes, needles: dict[str, str]) -> list[str]:
    return sorted(name for name, needle in needles.items() if needle.encode() in content)


def file_leaks(directory: Path, needles: dict[str, str]) -> dict[str, list[str]]:
    """Canaries in the raw bytes of any file under `directory` (database pages, WAL, free pages)."""
    found = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        hits = leaks(path.read_bytes(), needles)
        if hits:
            found[str(path.relative_to(directory))] = hits
    return found


@dataclass
class Run:
    needles: dict[str, str]
    statuses: dict[str, int] = field(default_factory=dict)
    stdout: bytes = b""
    spans: list = field(default_factory=list)
    otlp_logs: list = field(default_factory=list)
    otlp_metrics: list = field(default_factory=list)
    metrics_before: str = ""
    metrics_after: str = ""
    drift: list[bytes] = field(default_factory=list)
    files_before: dict = field(default_factory=dict)
    files_after: dict = field(default_factory=dict)
    links_after: list[str] = field(default_factory=list)
    traffic: subprocess.CompletedProcess | None = None
    forget: subprocess.CompletedProcess | None = None
    query_after: subprocess.CompletedProcess | None = None


def malformed_http(url: str, head: bytes) -> int:
    """The status a raw request head that no HTTP parser accepts is answered with."""
    host, port = httpx.URL(url).host, httpx.URL(url).port
    with socket.create_connection((host, port), timeout=5) as conn:
        conn.sendall(head)
        answer = b""
        while b"\r\n" not in answer:
            chunk = conn.recv(4096)
            if not chunk:
                break
            answer += chunk
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0


def send(client: httpx.Client, run: Run) -> None:
    good = application()
    personal, features = good["personal"], good["features"]

    def post(name: str, path: str = "/predict", **kwargs) -> None:
        run.statuses[name] = client.post(path, **kwargs).status_code

    def raw(name: str, body: bytes) -> None:
        post(name, content=body, headers={"content-type": "application/json"})

    post("decision", json=good)
    post("decision again", json=good)
    post("wrong type", json={**good, "features": {**features, "income": str(features["income"])}})
    post("missing field", json={**good, "personal": {k: v for k, v in personal.items() if k != "postcode"}})
    post("extra field", json={**good, "nickname": CANARY["name"], "personal": {**personal, "alias": CANARY["email"]}})
    post("too long", json={**good, "personal": {**personal, "name": CANARY["name"] * 20}})
    post("bad email", json={**good, "personal": {**personal, "email": CANARY["email"].replace("@", " at ")}})
    raw("bad json", json.dumps(good).encode()[:-3])
    raw("oversized", json.dumps({**good, "pad": "x" * 1_100_000}).encode())
    raw("not utf-8", json.dumps(good).encode().replace(CANARY["name"].encode(), CANARY["name"].encode() + b"\xff"))
    post("applicant id in a path", path=f"/applicants/{APPLICANT_ID}/decision", json=good)
    run.statuses["email in a path"] = client.get(f"/decisions/{CANARY['email']}").status_code
    run.statuses["malformed http"] = malformed_http(str(client.base_url), (
        f"POST /predict?id={APPLICANT_ID} HTTP/1.1\r\nhost: x\r\n{CANARY['email']} {CANARY['name']}\r\n\r\n").encode())
    post("trace headers", json=good, headers={"traceparent": TRACEPARENT, "tracestate": f"applicant={APPLICANT_ID}",
                                              "baggage": f"applicant={APPLICANT_ID}"})


def traffic_decisions(traffic: subprocess.CompletedProcess) -> int:
    found = re.search(r"^application +\d+ +(\d+)", traffic.stdout, re.MULTILINE)
    assert found, traffic.stdout + traffic.stderr
    return int(found.group(1))


@pytest.fixture(scope="module")
def run(tmp_path_factory, artifacts_dir, credit_model) -> Run:
    root = tmp_path_factory.mktemp("credit-service")  # everything the service writes, and nothing else
    out = tmp_path_factory.mktemp("credit-outputs")
    shutil.copytree(artifacts_dir / "credit", root / "artifacts" / "credit")
    result = Run(needles={**CANARY, "date_of_birth": application()["personal"]["date_of_birth"]})
    with OtlpSink() as otlp, DriftSink() as drift:
        env = {"MLOBS_ARTIFACTS_DIR": str(root / "artifacts"), "MLOBS_LOG_LEVEL": "DEBUG",
               "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.url, "OTEL_LOGS_EXPORTER": "otlp", "OTEL_METRICS_EXPORTER": "otlp",
               "OTEL_METRIC_EXPORT_INTERVAL": "200", "OTEL_BLRP_SCHEDULE_DELAY": "100",
               "OTEL_BSP_SCHEDULE_DELAY": "100",
               "MLOBS_DRIFT__EXPORTER_URL": drift.url, "MLOBS_DRIFT__FLUSH_INTERVAL_SECONDS": "0.05"}
        cli = [sys.executable, "-m", "mlobs.cli", "audit"]
        with ServiceProcess("credit", env, out / "stdout.log", port=free_port()) as service:
            with httpx.Client(base_url=service.url, timeout=10) as client:
                send(client, result)
                result.traffic = subprocess.run(
                    [sys.executable, "-m", "mlobs.cli", "traffic", "--target", service.url, "--service", "credit",
                     "--rate", "40", "--duration", "1", "--seed", "3", "--quiet"],
                    capture_output=True, text=True, timeout=60)
                decided = sum(1 for s in result.statuses.values() if s == 200) + traffic_decisions(result.traffic)
                deadline = time.monotonic() + 10
                while len(drift.samples()) < decided and time.monotonic() < deadline:
                    time.sleep(0.05)
                result.metrics_before = client.get("/metrics").text
                result.files_before = file_leaks(root, result.needles)
                full_env = {**os.environ, **env}
                result.forget = subprocess.run([*cli, "forget", APPLICANT_ID, "--actor", "dpo"], env=full_env,
                                               capture_output=True, text=True, timeout=60)
                result.query_after = subprocess.run([*cli, "query", "--subject", APPLICANT_ID], env=full_env,
                                                    capture_output=True, text=True, timeout=60)
                result.metrics_after = client.get("/metrics").text
        # Stopped: the service flushed its spans, logs and metrics on the way out.
        result.stdout = (out / "stdout.log").read_bytes()
        result.spans, result.otlp_logs, result.otlp_metrics = list(otlp.spans), list(otlp.logs), list(otlp.metrics)
        result.drift = list(drift.bodies)
    result.files_after = file_leaks(root, result.needles)
    keyring = Keyring.load_or_create(root / "audit" / "keys" / "pseudonym_keyring.json")
    links = {name: name for name in mapping_names(keyring, APPLICANT_ID)}
    result.links_after = sorted(file_leaks(root, links))
    return result


def test_the_service_answered_the_canary_decisions_and_refused_every_malformed_one(run):
    assert run.statuses == {
        "decision": 200, "decision again": 200, "wrong type": 422, "missing field": 422, "extra field": 422,
        "too long": 422, "bad email": 422, "bad json": 422, "oversized": 413, "not utf-8": 400,
        "applicant id in a path": 404, "email in a path": 404, "malformed http": 400, "trace headers": 200,
    }


def test_no_log_line_on_stdout_or_sent_by_otlp_holds_an_applicants_personal_value(run):
    assert run.stdout.count(b'"message":"request"') >= len(run.statuses) - 1 + 40  # every request HTTP could parse
    assert b"Invalid HTTP request received." in run.stdout
    assert len(run.otlp_logs) >= len(run.statuses)
    assert leaks(run.stdout, run.needles) == []
    assert leaks(b"".join(r.SerializeToString() for r in run.otlp_logs), run.needles) == []


def test_a_path_no_route_serves_is_left_off_the_span_since_a_caller_may_put_an_applicant_id_in_it(run):
    unmatched = [s for s in run.spans if attributes(s).get("http.response.status_code") == 404]
    assert len(unmatched) == 2
    for span in unmatched:
        assert span.name in ("GET", "POST")
        assert "url.path" not in attributes(span)
    refused = [s for s in run.spans if attributes(s).get("http.response.status_code") == 413]
    assert [attributes(s).get("url.path") for s in refused] == ["/predict"]  # a path the service serves stays


def test_an_untrusted_callers_trace_headers_leave_only_its_trace_and_span_ids_on_the_span_link(run):
    linked = [s for s in run.spans if s.links]
    assert len(linked) == 1
    link = linked[0].links[0]
    assert link.trace_id.hex() == TRACEPARENT.split("-")[1]
    assert link.span_id.hex() == TRACEPARENT.split("-")[2]
    assert link.trace_state == "" and not link.attributes


def test_no_span_attribute_event_link_or_name_holds_an_applicants_personal_value(run):
    assert len([s for s in run.spans if s.name == "POST /predict"]) >= 13 - 3  # all but the 404s and the 413
    assert leaks(b"".join(s.SerializeToString() for s in run.spans), run.needles) == []


def test_neither_the_metrics_endpoint_nor_otlp_metrics_hold_an_applicants_personal_value(run):
    assert "mlobs_http_request_duration_seconds" in run.metrics_before
    assert leaks(run.metrics_before.encode(), run.needles) == []
    assert leaks(run.metrics_after.encode(), run.needles) == []
    assert run.otlp_metrics
    assert leaks(b"".join(m.SerializeToString() for m in run.otlp_metrics), run.needles) == []


def test_the_drift_exporter_receives_coarse_model_inputs_and_nothing_personal(run):
    samples = [s for body in run.drift for s in json.loads(body)["samples"]]
    assert len(samples) == 3 + traffic_decisions(run.traffic)
    assert leaks(b"".join(run.drift), run.needles) == []
    assert TRAFFIC_APPLICANT.search(b"".join(run.drift)) is None
    for sample in samples[:2]:
        assert set(sample) == {"probs", "features", "segment"}
        assert set(sample["features"]) == {*credit.DRIFT_NUMERIC, *credit.CATEGORICAL}
        assert sample["features"]["income"] == 123_000 and sample["features"]["loan_amount"] == 23_500


def test_no_file_the_service_writes_holds_a_personal_value_in_plaintext_before_or_after_forget(run):
    assert run.files_before == {}
    assert run.files_after == {}


def test_after_forget_the_raw_id_finds_nothing_and_no_file_keeps_its_link(run):
    assert run.forget.returncode == 0, run.forget.stderr
    assert leaks(run.forget.stdout.encode() + run.forget.stderr.encode(), run.needles) == []
    assert run.query_after.returncode == 0 and run.query_after.stdout == ""
    assert run.links_after == []


def test_neither_the_traffic_generator_nor_the_service_names_an_applicant_the_traffic_sent(run):
    assert run.traffic.returncode == 0, run.traffic.stderr
    assert "by status: 200:" in run.traffic.stdout
    assert TRAFFIC_APPLICANT.search((run.traffic.stdout + run.traffic.stderr).encode()) is None
    assert TRAFFIC_APPLICANT.search(run.stdout) is None
    assert TRAFFIC_APPLICANT.search(b"".join(s.SerializeToString() for s in run.spans)) is None
    assert TRAFFIC_APPLICANT.search(b"".join(r.SerializeToString() for r in run.otlp_logs)) is None
    assert TRAFFIC_APPLICANT.search(run.metrics_after.encode()) is None
