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


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlobs.cli", *args], env={**os.environ, **(env or {})},
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow  # a fresh interpreter running the CLI
def test_a_malformed_setting_is_named_by_its_variable_without_its_value_or_a_traceback(tmp_path):
    secret_looking = "sk-live-0123456789"
    done = run_cli("serve", "credit", "--port", "0", env={
        "MLOBS_ARTIFACTS_DIR": str(tmp_path), "MLOBS_AUDIT__ENABLED": secret_looking, "MLOBS_MAX_BATCH": "-1"})
    assert done.returncode == 2
    assert "invalid setting MLOBS_AUDIT__ENABLED: Input should be a valid boolean" in done.stderr
    assert "invalid setting MLOBS_MAX_BATCH: Input should be greater than 0" in done.stderr
    assert "Traceback" not in done.stderr and secret_looking not in done.stderr


def test_a_setting_read_from_an_otel_variable_is_named_by_that_variable():
    from pydantic import ValidationError

    from mlobs.settings import Settings, settings_problems

    with pytest.raises(ValidationError) as caught:
        Settings(OTEL_SERVICE_NAME=5, max_batch=0)
    assert settings_problems(caught.value).splitlines() == [
        "invalid setting MLOBS_MAX_BATCH: Input should be greater than 0",
        "invalid setting OTEL_SERVICE_NAME: Input should be a valid string"]


@pytest.mark.slow  # a fresh interpreter running the CLI
def test_only_services_with_a_model_can_be_trained():
    done = run_cli("train", "oncall")
    assert done.returncode == 2
    assert "invalid choice: 'oncall' (choose from 'credit', 'sentiment', 'vision')" in done.stderr


@pytest.mark.slow  # a fresh interpreter running the CLI
def test_serve_refuses_an_audit_log_of_a_newer_format_with_a_message_and_touches_no_key(tmp_path, credit_model,
                                                                                       artifacts_dir):
    import sqlite3

    log_path = tmp_path / "audit.db"
    conn = sqlite3.connect(log_path, isolation_level=None)
    conn.execute(f"PRAGMA application_id = {0x6D6C6F62}")  # "mlob"
    conn.execute("PRAGMA user_version = 2")
    conn.close()
    done = run_cli("serve", "credit", "--port", "0", env={
        "MLOBS_ARTIFACTS_DIR": str(artifacts_dir), "MLOBS_AUDIT__STORE_URL": f"sqlite:///{log_path}",
        "MLOBS_AUDIT__KEYS_DIR": str(tmp_path / "keys")})
    assert done.returncode == 2
    assert "the audit log cannot be opened" in done.stderr and "format 2, written by a newer mlobs" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "keys").exists()
