"""Which filesystems hold an audit log's files."""

from __future__ import annotations

import math

from mlobs.audit import volumes
from mlobs.audit.settings import AuditSettings


def test_a_log_on_sqlite_has_its_directory_and_the_keys_directory(tmp_path):
    resolved = AuditSettings(store_url=f"sqlite:///{tmp_path / 'log' / 'audit.db'}", keys_dir=tmp_path / "k",
                             subject_keys_path=tmp_path / "k" / "subject_keys.db")
    assert volumes.store_dirs(resolved) == {"log": tmp_path / "log", "keys": tmp_path / "k"}


def test_a_log_on_postgresql_exports_only_the_keys_volume(tmp_path):
    resolved = AuditSettings(store_url="postgresql://audit@db/audit", keys_dir=tmp_path,
                             subject_keys_path=tmp_path / "subject_keys.db")
    assert volumes.store_dirs(resolved) == {"keys": tmp_path}


def test_a_directory_that_does_not_exist_has_no_free_space_to_report(tmp_path):
    assert math.isnan(volumes.free_bytes(tmp_path / "gone")) and math.isnan(volumes.size_bytes(tmp_path / "gone"))


def test_the_signing_key_and_the_checkpoint_mirror_on_volumes_of_their_own_are_watched_too(tmp_path):
    """The signing key's directory takes the last signed head at every checkpoint (full: decisions are
    refused); a mirror on other media takes every checkpoint (full: it silently stops mirroring)."""
    resolved = AuditSettings(store_url=f"sqlite:///{tmp_path / 'log' / 'audit.db'}", keys_dir=tmp_path / "signing",
                             subject_keys_path=tmp_path / "k" / "subject_keys.db",
                             checkpoint_mirror=tmp_path / "mirror" / "checkpoints.jsonl")
    assert volumes.store_dirs(resolved) == {"log": tmp_path / "log", "keys": tmp_path / "k",
                                            "signing": tmp_path / "signing", "mirror": tmp_path / "mirror"}


def test_the_signing_key_beside_the_subject_keys_is_one_volume_not_two(tmp_path):
    resolved = AuditSettings(store_url="postgresql://audit@db/audit").resolved(tmp_path)
    assert volumes.store_dirs(resolved) == {"keys": tmp_path / "keys"}
