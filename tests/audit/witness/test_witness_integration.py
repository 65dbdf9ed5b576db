"""`mlobs serve audit-witness` as a process, polling a log served over HTTP; verify reads it by URL."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest
import uvicorn

from audit import attacker
from audit.factories import decision
from audit.witness_helpers import TOKEN, log_app
from mlobs.audit.keys.signing import load_public_key
from mlobs.audit.verification.trust_verify import verify_log
from mlobs.local.ports import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def served_log(store_url):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(log_app(store_url), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(5)
    sock.close()


def wait_for(url: str, size: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).json()["size"] >= size:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"the witness did not reach size {size}")


def signed(log, numbers: range) -> None:
    """Decisions appended and covered by a signed checkpoint, which the log then serves."""
    for i in numbers:
        log.append(decision(i))
    log.checkpoint()


@contextlib.contextmanager
def witness_process(source_url: str, key, directory, **settings: str):
    """`mlobs serve audit-witness` in a process of its own, polling `source_url`; yields its URL."""
    port = free_port()
    env = {**os.environ, "MLOBS_AUDIT_WITNESS__SOURCE_URL": source_url, "MLOBS_AUDIT_WITNESS__TOKEN": TOKEN,
           "MLOBS_AUDIT_WITNESS__LOG_PUBLIC_KEY": str(key), "MLOBS_AUDIT_WITNESS__DIR": str(directory),
           "MLOBS_AUDIT_WITNESS__INTERVAL_S": "0.2", "MLOBS_ARTIFACTS_DIR": str(directory / "artifacts"),
           **{f"MLOBS_AUDIT_WITNESS__{name.upper()}": value for name, value in settings.items()}}
    witness = subprocess.Popen([sys.executable, "-m", "mlobs.cli", "serve", "audit-witness", "--port", str(port)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        witness.terminate()
        try:
            witness.wait(10)
        except subprocess.TimeoutExpired:
            witness.kill()
            witness.wait()


def test_the_witness_process_cosigns_the_served_log_and_verify_by_url_catches_a_truncation(
        log, served_log, audit_settings, tmp_path, store_url):
    key = audit_settings.keys_dir / "checkpoint_signing.pub.pem"
    signed(log, range(30))
    with witness_process(served_log, key, tmp_path / "w") as url:
        wait_for(url, 30)
        signed(log, range(30, 50))
        wait_for(url, 50)
        log.close()
        public = load_public_key(key)
        from mlobs.audit.proof_cli import load_witness

        witnessed = load_witness(url, load_public_key(tmp_path / "w" / "witness_key.pub.pem"))
        assert verify_log(store_url, public, witness=witnessed).ok
        attacker.run(store_url, [("DELETE FROM audit_records WHERE seq > 40", ()),
                                 ("DELETE FROM audit_tree_heads WHERE size > 40", ()),
                                 ("DELETE FROM audit_checkpoints WHERE seq > 40", ())])
        report = verify_log(store_url, public, witness=witnessed)
        assert not report.ok and report.problem.seq == 41 and "witness" in report.problem.what


def scraped(url: str) -> dict[tuple, float]:
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{url}/metrics", timeout=5).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def until(condition, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.1)


def test_a_rolled_back_log_shows_on_the_witness_metrics_and_its_health_turns_503_after_the_bound(
        log, served_log, audit_settings, tmp_path, store_url):
    key = audit_settings.keys_dir / "checkpoint_signing.pub.pem"
    signed(log, range(30))
    with witness_process(served_log, key, tmp_path / "w", timeout_s="1", stale_after_s="3") as url:
        wait_for(url, 30)
        metrics = scraped(url)
        assert metrics[("mlobs_audit_witness_cosigned_total", ())] == 1
        assert metrics[("mlobs_audit_witness_tree_size", ())] == 30
        assert metrics[("mlobs_audit_witness_healthy", ())] == 1
        assert time.time() - metrics[("mlobs_audit_witness_last_success_timestamp_seconds", ())] < 3
        log.close()
        attacker.run(store_url, [("DELETE FROM audit_records WHERE seq > 20", ()),
                                 ("DELETE FROM audit_tree_heads WHERE size > 20", ()),
                                 ("DELETE FROM audit_checkpoints WHERE seq > 20", ())])
        rollback = ("mlobs_audit_witness_refusals_total", (("reason", "rollback"),))
        until(lambda: scraped(url)[rollback] >= 1, "the witness counts the rollback")
        until(lambda: httpx.get(f"{url}/healthz", timeout=5).status_code == 503, "/healthz answers 503")
        health = httpx.get(f"{url}/healthz", timeout=5).json()
        assert health["size"] == 30 and "shrank" in health["last_error"] and health["last_success_age_s"] > 3
        assert scraped(url)[("mlobs_audit_witness_healthy", ())] == 0
        assert httpx.get(f"{url}/livez", timeout=5).status_code == 200
