"""A witness whose disk reports an I/O error when a line is made durable (fsync fails with EIO): the round is
refused as unkept, and the line it was told failed is not in its store: kept again next round, it would
be there twice, and the store would no longer start."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from audit.witness_helpers import grow, log_app, pinned_key, witness_for
from mlobs.audit.keys.key_rotation import rotate
from mlobs.audit.witness import catalog
from mlobs.audit.witness.store import COSIGNED, ROTATIONS, read_notes



@pytest.fixture
def failing_fsync(monkeypatch):
    """Makes the next fsync of a file of the given name fail as a disk's I/O error does."""
    real = os.fsync
    failing: set[str] = set()

    def fsync(fd):
        name = Path(os.readlink(f"/proc/self/fd/{fd}")).name
        if name in failing:
            failing.discard(name)
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return failing


def test_a_cosigned_checkpoint_whose_fsync_failed_is_not_kept_and_the_next_round_keeps_it_once(
        log, store_url, audit_settings, tmp_path, failing_fsync):
    key = audit_settings.keys_dir / "checkpoint_signing.pub.pem"
    witness = witness_for(log_app(store_url), key, tmp_path / "w")
    grow(log, 0, 10)
    assert witness.poll().size == 10
    grow(log, 10, 20)
    failing_fsync.add(COSIGNED)
    assert witness.poll() is None and "Input/output error" in witness.last_error
    assert f'{catalog.REASON}="{catalog.UNKEPT}"}} 1.0' in generate_latest(witness.registry).decode()
    assert len(read_notes(tmp_path / "w")) == 1
    assert witness.poll().size == 20, witness.last_error
    assert [note.split("\n")[1] for note in read_notes(tmp_path / "w")] == ["10", "20"]
    assert witness_for(log_app(store_url), key, tmp_path / "w").head.size == 20


def test_rotation_evidence_whose_fsync_failed_is_not_kept_and_is_kept_once_when_followed_again(
        log, store_url, audit_settings, tmp_path, failing_fsync):
    pinned = pinned_key(audit_settings, tmp_path)
    witness = witness_for(log_app(store_url), pinned, tmp_path / "w")
    grow(log, 0, 10)
    assert witness.poll().size == 10
    rotate(log, "ops")
    grow(log, 10, 20)
    failing_fsync.add(ROTATIONS)
    assert witness.poll() is None and "Input/output error" in witness.last_error
    assert witness.poll().size == 21, witness.last_error
    assert len((tmp_path / "w" / ROTATIONS).read_bytes().splitlines()) == 1
    assert witness_for(log_app(store_url), pinned, tmp_path / "w").head.size == 21
