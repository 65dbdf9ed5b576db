from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mlobs.audit import AuditLog, AuditSettings, Decision


@pytest.mark.slow  # a fresh interpreter running the CLI
def test_a_reader_that_stops_early_ends_the_command_quietly_with_the_sigpipe_status(tmp_path):
    url = f"sqlite:///{tmp_path / 'audit' / 'audit.db'}"
    log = AuditLog.open(AuditSettings(store_url=url), base_dir=tmp_path / "audit")
    pending = [log.submit(Decision("credit", "m", "1", {"score": i}, subject="alice")) for i in range(2_000)]
    for p in pending:
        p.result(30)
    log.close()
    env = {**os.environ, "MLOBS_ARTIFACTS_DIR": str(tmp_path / "artifacts"), "MLOBS_AUDIT__STORE_URL": url}
    proc = subprocess.Popen([sys.executable, "-m", "mlobs.cli", "audit", "query", "--subject", "alice"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline().startswith(b"{")  # more than a pipe's buffer follows
    proc.stdout.close()
    stderr = proc.stderr.read()
    assert proc.wait(60) == 141
    assert b"Traceback" not in stderr and b"BrokenPipe" not in stderr
