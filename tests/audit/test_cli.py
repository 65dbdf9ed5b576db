from __future__ import annotations

import argparse
import csv
import io

import orjson
import pytest

from audit import attacker
from audit.factories import decision
from mlobs.audit import AuditLog, AuditSettings
from mlobs.audit.cli import register


@pytest.fixture
def cli(monkeypatch, tmp_path, store_url):
    monkeypatch.setenv("MLOBS_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    monkeypatch.setenv("MLOBS_AUDIT__STORE_URL", store_url)
    monkeypatch.setenv("MLOBS_AUDIT__CHECKPOINT_EVERY", "5")
    parser = argparse.ArgumentParser(prog="mlobs")
    register(parser.add_subparsers(dest="command", required=True))

    def run(*argv: str) -> int:
        args = parser.parse_args(["audit", *argv])
        return args.func(args)

    log = AuditLog.open(AuditSettings(store_url=store_url, checkpoint_every=5), base_dir=tmp_path / "audit")
    receipts = [log.append(decision(i, subject="alice" if i < 3 else "bob", raw={"i": i})) for i in range(8)]
    log.close()
    return run, receipts


def test_query_by_raw_subject_prints_json_lines(cli, capsys):
    run, receipts = cli
    assert run("query", "--subject", "alice") == 0
    lines = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["decision_id"] for r in lines] == [r.decision_id for r in receipts[:3]]


def test_query_prints_csv(cli, capsys):
    run, _ = cli
    assert run("query", "--outcome", "deny", "--format", "csv") == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 4 and {r["outcome"] for r in rows} == {"deny"}


def test_verify_exits_zero_on_a_sound_log(cli, capsys):
    run, _ = cli
    assert run("verify") == 0
    assert "OK" in capsys.readouterr().out


def test_verify_exits_non_zero_and_names_the_first_bad_record(cli, capsys, store_url):
    run, receipts = cli
    attacker.run(store_url, [("UPDATE audit_records SET header = replace(header, '\"deny\"', '\"overturned\"') "
                              "WHERE seq = 4", ())])
    assert run("verify") == 1
    out = capsys.readouterr().out
    assert "record seq 4" in out and receipts[3].decision_id in out and "edited" in out


def test_export_writes_a_bundle_that_verifies_and_detects_edits(cli, tmp_path, capsys):
    run, _ = cli
    out = tmp_path / "bundle"
    assert run("export", str(out)) == 0
    assert {p.name for p in out.iterdir()} >= {"records.jsonl", "checkpoints.jsonl", "public_key.pem",
                                              "verification.json", "verification.txt", "README.txt"}
    assert orjson.loads((out / "verification.json").read_bytes())["ok"] is True
    assert run("verify", "--bundle", str(out)) == 0
    lines = (out / "records.jsonl").read_text().splitlines()
    record = orjson.loads(lines[2])
    record["header"] = record["header"].replace('"3"', '"9"')  # model version 3 -> 9
    lines[2] = orjson.dumps(record).decode()
    (out / "records.jsonl").write_text("\n".join(lines) + "\n")
    assert run("verify", "--bundle", str(out)) == 1
    assert "record seq 3" in capsys.readouterr().out


def test_forget_raw_and_purge_commands(cli, capsys):
    run, receipts = cli
    assert run("raw", "--decision-id", receipts[4].decision_id, "--reason", "ticket 1") == 0
    assert orjson.loads(capsys.readouterr().out.strip()) == {"i": 4}
    assert run("forget", "alice") == 0
    assert run("raw", "--decision-id", receipts[0].decision_id, "--reason", "ticket 2") == 1
    assert run("purge") == 0
    assert "purged 0" in capsys.readouterr().out
    assert run("query", "--event-type", "raw_access") == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    assert run("verify") == 0
