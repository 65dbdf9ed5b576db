"""A witness served over HTTP whose history was edited while it runs: `verify --witness URL` fails with the
witness's own reason, the line of its history that does not check, rather than a bare status."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import uvicorn

from audit.witness.test_witness_store_reads import _settings
from audit.witness_helpers import signed_store
from mlobs.audit.proof_cli import load_witness
from mlobs.audit.witness.service import create_app
from mlobs.audit.witness.store import COSIGNED

pytestmark = pytest.mark.integration


@pytest.fixture
def served(tmp_path):
    directory = tmp_path / "w"
    key = signed_store(directory, range(100, 130))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(_settings(directory, key)), log_level="critical",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    yield directory, f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(5)
    sock.close()


def test_verify_against_a_witness_whose_history_was_edited_while_it_runs_names_the_line(served):
    directory, url = served
    assert load_witness(url).notes[0].split("\n")[1] == "129"
    lines = (directory / COSIGNED).read_bytes().split(b"\n")
    lines[3], lines[20] = lines[20], lines[3]  # same length: an edit in place
    (directory / COSIGNED).write_bytes(b"\n".join(lines))
    for covering in (None, 110):
        with pytest.raises(ValueError, match=f"answered 500: .*{COSIGNED} line 5: tree size 104 after 120"):
            load_witness(url, covering=covering)
