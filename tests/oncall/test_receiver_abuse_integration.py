"""The on-call receiver (`mlobs serve oncall`) attacked from outside: oversized and malformed webhook bodies,
invented severities, and label values holding newlines and markup."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import httpx
import orjson
import pytest

from mlobs.local.ports import free_port, wait_for_http
from oncall.payloads import alert, message
from protect.raw import exchange, status_of, stream_until_answered
from support.processes import ServiceProcess

pytestmark = [pytest.mark.integration]

MAX_BYTES = 100_000


@pytest.fixture(scope="module")
def receiver(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("oncall-abuse")
    env = {"MLOBS_ONCALL__MAX_BODY_BYTES": str(MAX_BYTES), "MLOBS_ONCALL__JOURNAL_PATH": str(workdir / "pages.jsonl")}
    with ServiceProcess("oncall", env, workdir / "oncall.log") as running:
        yield running, workdir


def series(url: str, name: str) -> list[str]:
    return [line for line in httpx.get(f"{url}/metrics").text.splitlines() if line.startswith(name + "{")]


def test_a_body_declared_over_the_limit_is_refused_before_it_is_sent(receiver):
    service, _ = receiver
    head = (f"POST /alerts HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            f"content-length: {4_000_000_000}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", service.port), timeout=4) as sock:
        sock.sendall(head)
        response = sock.recv(65536)  # the answer comes with no byte of the body sent
    assert status_of(response) == 413, response[:200]


def test_a_chunked_body_over_the_limit_is_cut_off_with_413_while_it_streams(receiver):
    service, _ = receiver
    head = b"POST /alerts HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
    sent, response = stream_until_answered(service.port, head, 100 * MAX_BYTES)
    assert status_of(response) == 413, response[:200]
    assert sent < 10 * MAX_BYTES


def test_json_nested_past_any_parsers_depth_is_refused_as_not_json(receiver):
    service, _ = receiver
    body = b"[" * 50_000 + b"]" * 50_000
    response = exchange(service.port, b"POST /alerts HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                        b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
    assert status_of(response) == 400
    assert b'"not_json"' in response


@pytest.mark.slow
def test_a_thousand_invented_severities_never_grow_the_notification_counter_past_a_bound(receiver):
    service, _ = receiver
    with httpx.Client() as client:
        for i in range(1000):
            body = message(alert(name="InputDriftDetected", severity=f"sev-{i}"))
            assert client.post(f"{service.url}/alerts", params={"severity": f"route-{i}"}, json=body).status_code == 200
            body = message(alert(name="InputDriftDetected", severity=None))
            assert client.post(f"{service.url}/alerts", params={"severity": f"route-{i}"}, json=body).status_code == 200
    assert len(series(service.url, "mlobs_oncall_notifications_total")) <= 25


def test_label_values_with_newlines_and_markup_are_kept_verbatim_and_journalled_one_line_each(receiver):
    service, workdir = receiver
    hostile = '</script><script>alert(1)</script>\n{"alertname": "Forged"}\r\nseverity="page"'
    before = len((workdir / "pages.jsonl").read_bytes().splitlines())
    body = message(alert(name="InputDriftDetected", model=hostile, summary=hostile))
    assert httpx.post(f"{service.url}/alerts", json=body).status_code == 200
    lines = (workdir / "pages.jsonl").read_bytes().splitlines()
    assert len(lines) == before + 1
    assert orjson.loads(lines[-1])["alerts"][0]["labels"]["model"] == hostile
    pages = httpx.get(f"{service.url}/pages", params={"alertname": "InputDriftDetected"})
    assert pages.headers["content-type"] == "application/json"
    assert pages.json()["notifications"][-1]["alerts"][0]["labels"]["model"] == hostile
    assert not httpx.get(f"{service.url}/pages", params={"alertname": "Forged"}).json()["notifications"]


def big_message(i: int, size: int) -> dict:
    """A notification of about `size` bytes (its one alert's labels are also its common labels)."""
    return message(alert(name=f"Big{i}", padding="x" * (size // 2 - 1000)))


@pytest.mark.slow
def test_a_flood_of_large_notifications_keeps_memory_and_disk_within_their_bounds(tmp_path):
    keep, journal_max, size = 4_000_000, 3_000_000, 900_000
    env = {"MLOBS_ONCALL__MAX_BODY_BYTES": str(1_000_000), "MLOBS_ONCALL__KEEP_BYTES": str(keep),
           "MLOBS_ONCALL__JOURNAL_PATH": str(tmp_path / "pages.jsonl"),
           "MLOBS_ONCALL__JOURNAL_MAX_BYTES": str(journal_max)}
    with ServiceProcess("oncall", env, tmp_path / "oncall.log") as service, httpx.Client(timeout=10) as client:
        for i in range(150):
            assert client.post(f"{service.url}/alerts", json=big_message(i, size)).status_code == 200
        pages = client.get(f"{service.url}/pages")
    kept = pages.json()["notifications"]
    assert 1 <= len(kept) <= keep // size
    assert len(pages.content) <= keep
    assert kept[-1]["alerts"][0]["labels"]["alertname"] == "Big149"  # the newest are the ones kept
    on_disk = sum(path.stat().st_size for path in tmp_path.glob("pages.jsonl*"))
    assert on_disk <= 2 * journal_max + size + 10_000
    last = (tmp_path / "pages.jsonl").read_bytes().splitlines()[-1]
    assert orjson.loads(last)["alerts"][0]["labels"]["alertname"] == "Big149"


def _rss_bytes(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.mark.slow
def test_a_stdout_nobody_reads_holds_at_most_the_log_queues_bytes_and_never_stalls_a_page(tmp_path):
    # Each notification is logged whole: lines of 900 KB, behind a pipe whose reader never reads.
    queue_bytes, size, count = 4_000_000, 900_000, 60
    port = free_port()
    env = {**os.environ, "MLOBS_ONCALL__MAX_BODY_BYTES": str(1_000_000), "MLOBS_ONCALL__KEEP_BYTES": str(1_000_000),
           "MLOBS_LOG_QUEUE_BYTES": str(queue_bytes)}
    process = subprocess.Popen([sys.executable, "-m", "mlobs.cli", "serve", "oncall", "--host", "127.0.0.1",
                                "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_http(f"{url}/healthz", 60, "oncall")
        with httpx.Client(timeout=10) as client:
            client.post(f"{url}/alerts", json=big_message(0, size))  # the pipe fills; the writer blocks
            before = _rss_bytes(process.pid)
            for i in range(1, count):
                assert client.post(f"{url}/alerts", json=big_message(i, size)).status_code == 200
            grown = _rss_bytes(process.pid) - before
            assert client.get(f"{url}/pages").json()["notifications"][-1]["alerts"][0]["labels"]["alertname"] == (
                f"Big{count - 1}")
    finally:
        process.kill()
        process.wait()
    # Unbounded in bytes, the queue held every line: about count x size = 54 MB.
    assert grown < queue_bytes + 20_000_000, f"grew {grown / 1e6:.0f} MB"
