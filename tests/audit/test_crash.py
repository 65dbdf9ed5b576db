"""A process appending under load is killed with SIGKILL: nothing it acknowledged is lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from mlobs.audit import AuditLog

CHILD = r"""
import sys, threading
from mlobs.audit import AuditLog, AuditSettings, Decision
from pathlib import Path
log = AuditLog.open(AuditSettings(store_url=sys.argv[1], checkpoint_every=100), base_dir=Path(sys.argv[2]))
lock = threading.Lock()
def work(n):
    i = 0
    while True:
        i += 1
        r = log.append(Decision("credit", "gbm", "3", {"i": i}, subject=f"s{n}-{i % 50}", personal={"n": i}))
        with lock:
            sys.stdout.write(r.decision_id + "\n"); sys.stdout.flush()
for n in range(8):
    threading.Thread(target=work, args=(n,), daemon=True).start()
threading.Event().wait()
"""


@pytest.mark.slow  # a writer process killed under load
def test_sigkill_under_load_loses_no_acknowledged_record(store_url, tmp_path, clock):
    child = subprocess.Popen([sys.executable, "-c", CHILD, store_url, str(tmp_path)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    acknowledged: list[str] = []
    deadline = time.monotonic() + 30
    while len(acknowledged) < 300 and time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            break
        acknowledged.append(line.decode().strip())
    os.kill(child.pid, signal.SIGKILL)
    rest = child.stdout.read().decode().splitlines()
    child.wait()
    acknowledged += [line for line in rest if len(line) == 32]  # a torn last line was never acknowledged
    assert len(acknowledged) >= 300, child.stderr.read().decode()[-2000:]

    from mlobs.audit import AuditSettings

    log = AuditLog.open(AuditSettings(store_url=store_url), base_dir=tmp_path, clock=clock)
    try:
        stored = {r["decision_id"] for r in log.query(event_type="decision")}
        assert set(acknowledged) <= stored
        assert log.verify().ok
    finally:
        log.close()
