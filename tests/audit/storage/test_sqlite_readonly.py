"""An auditor verifies a copy of a log where nothing can be written: an archive on a read-only
filesystem (a snapshot, WORM media), or a directory whose name holds URI characters. Verify reads it
and creates nothing."""

from __future__ import annotations

import argparse
import shutil
import subprocess

import pytest
from support.small_volume import small_volume

from audit.factories import decision
from mlobs.audit import AuditLog, AuditSettings
from mlobs.audit.cli import register


def write_log(directory, keys) -> AuditSettings:
    settings = AuditSettings(store_url=f"sqlite:///{directory / 'audit.db'}", keys_dir=keys,
                             checkpoint_every=5).resolved(directory)
    with AuditLog.open(settings) as log:
        for i in range(12):
            log.append(decision(i, subject=f"s{i % 3}", raw={"body": i}))
    return settings


def verify(path, keys, capsys) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="mlobs")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["audit", "verify", str(path), "--public-key", str(keys / "checkpoint_signing.pub.pem")])
    rc = args.func(args)
    out = capsys.readouterr()
    return rc, out.out + out.err


def test_a_log_archived_on_a_read_only_filesystem_verifies(tmp_path, capsys):
    write_log(tmp_path / "live", tmp_path / "keys")
    with small_volume(tmp_path / "archive", "16m") as archive:
        for name in ("audit.db", "audit.lookup.db"):
            shutil.copy(tmp_path / "live" / name, archive / name)
        subprocess.run(["mount", "-o", "remount,ro", str(archive)], check=True)

        rc, out = verify(archive / "audit.db", tmp_path / "keys", capsys)

        assert rc == 0, out
        assert "OK" in out


@pytest.mark.parametrize("name", ["log?mode=rwc", "log#1", "log%3F"])
def test_a_log_in_a_directory_whose_name_holds_uri_characters_verifies_and_nothing_is_created(
        tmp_path, capsys, name):
    directory = tmp_path / name
    directory.mkdir()
    write_log(directory, tmp_path / "keys")
    before = sorted(p.name for p in tmp_path.iterdir())

    rc, out = verify(directory / "audit.db", tmp_path / "keys", capsys)

    assert rc == 0, out
    assert sorted(p.name for p in tmp_path.iterdir()) == before
