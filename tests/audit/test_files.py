"""Databases, keys and mirrors are readable by their owner only, whatever the umask."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from audit.factories import decision
from mlobs.audit import AuditLog, AuditSettings
from mlobs.audit.files import private_sqlite


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_every_file_the_log_creates_is_0600_in_0700_directories(tmp_path):
    old = os.umask(0o022)  # the usual default, which would give 0644 files and 0755 directories
    try:
        base = tmp_path / "var" / "audit"
        settings = AuditSettings(checkpoint_every=2, checkpoint_mirror=base / "mirror" / "checkpoints.jsonl")
        with AuditLog.open(settings.resolved(base), base_dir=base) as log:
            for i in range(3):
                log.append(decision(i, raw={"i": i}))
            log.forget("applicant-1", actor="dpo")
    finally:
        os.umask(old)
    files = [p for p in base.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"audit.db", "audit.lookup.db", "subject_keys.db", "subject_keys-appended.db", "checkpoints.jsonl",
            "pseudonym_keyring.json", "checkpoint_signing.pem"} <= names
    assert {str(p.relative_to(base)): oct(_mode(p)) for p in files if _mode(p) != 0o600} == {}
    directories = [base, *(p for p in base.rglob("*") if p.is_dir()), tmp_path / "var"]
    assert {str(p): oct(_mode(p)) for p in directories if _mode(p) != 0o700} == {}


def test_an_existing_world_readable_database_and_its_wal_are_narrowed(tmp_path):
    path = tmp_path / "audit.db"
    for p in (path, Path(f"{path}-wal")):
        p.write_bytes(b"")
        p.chmod(0o644)
    private_sqlite(path)
    assert _mode(path) == 0o600 and _mode(Path(f"{path}-wal")) == 0o600


def test_world_readable_secret_keys_found_beside_a_log_or_a_witness_are_narrowed_when_they_are_loaded(tmp_path):
    from mlobs.audit.witness.store import KEY, WitnessStore

    base = tmp_path / "audit"
    settings = AuditSettings().resolved(base)
    with AuditLog.open(settings, base_dir=base) as log:
        log.append(decision(1))
    WitnessStore(tmp_path / "witness")
    secrets = [settings.keys_dir / "checkpoint_signing.pem", settings.keys_dir / "pseudonym_keyring.json",
               tmp_path / "witness" / KEY]
    for path in secrets:
        path.chmod(0o644)  # restored from a backup, or copied under the umask
    with AuditLog.open(settings, base_dir=base, read_only=True):
        pass
    WitnessStore(tmp_path / "witness")
    assert {p.name: oct(_mode(p)) for p in secrets if _mode(p) != 0o600} == {}
