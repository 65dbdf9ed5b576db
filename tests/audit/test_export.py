from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from audit.factories import decision
from mlobs.audit import AuditLog, AuditSettings
from mlobs.audit.export import export_bundle, verify_bundle


def test_bundle_from_the_library_verifies_against_its_own_public_key(log, tmp_path):
    for i in range(25):
        log.append(decision(i))
    report = export_bundle(log, tmp_path / "bundle")
    assert report.ok and report.records == 25 and report.checkpoints_checked == 2
    assert verify_bundle(tmp_path / "bundle").ok


def test_bundle_with_a_dropped_line_fails_verification(log, tmp_path):
    for i in range(12):
        log.append(decision(i))
    export_bundle(log, tmp_path / "bundle")
    path = tmp_path / "bundle" / "records.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:5] + lines[6:]) + "\n")
    report = verify_bundle(tmp_path / "bundle")
    assert not report.ok and report.problem.seq == 6


def _export_in_a_child(tmp_path, out, umask: int) -> subprocess.CompletedProcess:
    """`mlobs audit export` as an operator runs it, in a process of its own with the given umask."""
    env = {**os.environ, "MLOBS_ARTIFACTS_DIR": str(tmp_path / "artifacts"),
           "MLOBS_AUDIT__STORE_URL": f"sqlite:///{tmp_path / 'audit' / 'audit.db'}"}
    return subprocess.run([sys.executable, "-m", "mlobs.cli", "audit", "export", str(out)], env=env,
                          capture_output=True, text=True, timeout=120, preexec_fn=lambda: os.umask(umask))


@pytest.fixture
def sqlite_log_on_disk(tmp_path):
    log = AuditLog.open(AuditSettings(store_url=f"sqlite:///{tmp_path / 'audit' / 'audit.db'}", checkpoint_every=5),
                        base_dir=tmp_path / "audit")
    for i in range(7):
        log.append(decision(i, subject="alice", personal={"name": "Alice"}))
    log.close()


def test_an_exported_bundle_is_readable_by_its_owner_only_whatever_the_umask(tmp_path, sqlite_log_on_disk):
    out = tmp_path / "handover" / "bundle"
    done = _export_in_a_child(tmp_path, out, umask=0o022)
    assert done.returncode == 0, done.stderr
    files = sorted(p.name for p in out.iterdir())
    assert {"records.jsonl", "checkpoints.jsonl", "public_key.pem", "verification.json"} <= set(files)
    assert {name: stat.S_IMODE((out / name).stat().st_mode) for name in files} == {name: 0o600 for name in files}
    assert stat.S_IMODE(out.stat().st_mode) == 0o700 and stat.S_IMODE(out.parent.stat().st_mode) == 0o700
    assert verify_bundle(out).ok


def test_exporting_over_an_old_world_readable_bundle_narrows_its_files(tmp_path, sqlite_log_on_disk):
    out = tmp_path / "bundle"
    out.mkdir(mode=0o755)
    for name in ("records.jsonl", "README.txt"):
        (out / name).write_text("old\n")
        (out / name).chmod(0o644)
    done = _export_in_a_child(tmp_path, out, umask=0o022)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE((out / "records.jsonl").stat().st_mode) == 0o600
    assert stat.S_IMODE((out / "README.txt").stat().st_mode) == 0o600
    assert "old" not in (out / "records.jsonl").read_text().splitlines() and verify_bundle(out).ok
