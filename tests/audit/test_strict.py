"""A payload rewritten as TEXT with the same bytes: verify names it, query and export go on."""

from __future__ import annotations

import argparse

import orjson
import pytest

from audit import attacker
from audit.factories import decision
from mlobs.audit import AuditLog, AuditSettings
from mlobs.audit.cli import register
from mlobs.audit.export import export_bundle
from mlobs.audit.strict import BadRow, decode_row


@pytest.fixture
def retyped(tmp_path):
    """A SQLite log of six records whose third payload an attacker rewrote as TEXT, same bytes."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    with AuditLog.open(AuditSettings(store_url=url, checkpoint_every=100), base_dir=tmp_path) as log:
        receipts = [log.append(decision(i, subject="alice")) for i in range(6)]
    attacker.run(url, [("UPDATE audit_records SET payload = CAST(payload AS TEXT) WHERE seq = 3", ())])
    return url, receipts


def test_verify_fails_on_a_text_payload_and_names_its_seq(retyped, tmp_path):
    url, _ = retyped
    with AuditLog.open(AuditSettings(store_url=url), base_dir=tmp_path) as log:
        report = log.verify()
    assert not report.ok and report.problem.seq == 3
    assert "payload stored as TEXT where BLOB is expected" in report.problem.what


def test_query_reports_the_bad_row_and_returns_every_other_record(retyped, tmp_path, monkeypatch, capsys):
    url, receipts = retyped
    monkeypatch.setenv("MLOBS_AUDIT__STORE_URL", url)
    monkeypatch.setenv("MLOBS_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    monkeypatch.setenv("MLOBS_AUDIT__KEYS_DIR", str(tmp_path / "keys"))
    parser = argparse.ArgumentParser(prog="mlobs")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["audit", "query", "--subject", "alice"])
    assert args.func(args) == 1
    out, err = capsys.readouterr()
    ids = [orjson.loads(line)["decision_id"] for line in out.splitlines()]
    assert ids == [r.decision_id for i, r in enumerate(receipts) if i != 2]
    assert "record seq 3" in err and "TEXT" in err


def test_export_reports_the_bad_row_and_exports_the_rest(retyped, tmp_path):
    url, _ = retyped
    with AuditLog.open(AuditSettings(store_url=url), base_dir=tmp_path) as log:
        report = export_bundle(log, tmp_path / "bundle")
    assert not report.ok and report.problem.seq == 3
    lines = (tmp_path / "bundle" / "records.jsonl").read_bytes().splitlines()
    assert [orjson.loads(line)["seq"] for line in lines] == [1, 2, 4, 5, 6]
    assert any("record seq 3" in note for note in report.notes)


@pytest.mark.parametrize("row, what", [
    ((1, "[]", "{}", "h"), "payload stored as TEXT"),
    ((1, b"[]", b"{}", "h"), "header stored as bytes"),
    ((1, "[1,", b"{}", "h"), "not valid JSON"),
    ((1, "[1]", b"{}", "h"), "wrong shape"),
])
def test_a_malformed_row_is_refused_with_what_is_wrong(row, what):
    with pytest.raises(BadRow, match=what):
        decode_row(row)
