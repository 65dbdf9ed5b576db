"""A hostile log that answers the witness one byte at a time, each just inside the read timeout: the round
ends as unreachable after about the timeout, instead of lasting as long as the log keeps dripping."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr
from prometheus_client import generate_latest

from audit.witness_helpers import TOKEN
from mlobs.audit.keys.signing import public_key_pem
from mlobs.audit.witness import catalog
from mlobs.audit.witness.service import Witness
from mlobs.audit.witness.settings import WitnessSettings

pytestmark = pytest.mark.integration


def _dripping(stop: threading.Event, listener: socket.socket) -> None:
    """Answers each connection 200, then a byte of body every 0.1 s until `stop`."""
    listener.settimeout(0.2)
    while not stop.is_set():
        try:
            conn, _ = listener.accept()
        except socket.timeout:
            continue
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n")
            try:
                while not stop.is_set():
                    conn.sendall(b"1\r\nx\r\n")
                    time.sleep(0.1)
            except OSError:
                pass


def test_a_log_dripping_its_answer_ends_the_round_as_unreachable_after_about_the_timeout(tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()
    server = threading.Thread(target=_dripping, args=(stop, listener), daemon=True)
    server.start()
    key = tmp_path / "log.pub.pem"
    key.write_bytes(public_key_pem(Ed25519PrivateKey.generate().public_key()))
    settings = WitnessSettings(source_url=f"http://127.0.0.1:{listener.getsockname()[1]}", token=SecretStr(TOKEN),
                               log_public_key=key, dir=tmp_path / "w", timeout_s=0.5)
    witness = Witness(settings)
    done = []
    rounds = threading.Thread(target=lambda: done.append(witness.poll()), daemon=True)
    try:
        started = time.monotonic()
        rounds.start()
        rounds.join(5)
        assert not rounds.is_alive(), "the round still reads the dripping answer"
        assert time.monotonic() - started < 3 and done == [None]
        assert "0.5" in witness.last_error
        text = generate_latest(witness.registry).decode()
        assert f'{catalog.REASON}="{catalog.UNREACHABLE}"}} 1.0' in text
    finally:
        stop.set()
        rounds.join(5)
        server.join(5)
        listener.close()
