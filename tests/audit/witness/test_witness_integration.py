"""`mlobs serve audit-witness` as a process, polling a log served over HTTP; verify reads it by URL."""

from __future__ import annotations

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


def test_the_witness_process_cosigns_the_served_log_and_verify_by_url_catches_a_truncation(
        log, served_log, audit_settings, tmp_path, store_url):
    key = audit_settings.keys_dir / "checkpoint_signing.pub.pem"
    for i in range(30):
        log.append(decision(i))
    log.checkpoint()
    port = free_port()
    env = {**os.environ, "MLOBS_AUDIT_WITNESS__SOURCE_URL": served_log, "MLOBS_AUDIT_WITNESS__TOKEN": TOKEN,
           "MLOBS_AUDIT_WITNESS__LOG_PUBLIC_KEY": str(key), "MLOBS_AUDIT_WITNESS__DIR": str(tmp_path / "w"),
           "MLOBS_AUDIT_WITNESS__INTERVAL_S": "0.2", "MLOBS_ARTIFACTS_DIR": str(tmp_path / "artifacts")}
    witness = subprocess.Popen([sys.executable, "-m", "mlobs.cli", "serve", "audit-witness", "--port", str(port)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(url, 30)
        for i in range(30, 50):
            log.append(decision(i))
        log.checkpoint()
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
    finally:
        witness.terminate()
        try:
            witness.wait(10)
        except subprocess.TimeoutExpired:
            witness.kill()
            witness.wait()
