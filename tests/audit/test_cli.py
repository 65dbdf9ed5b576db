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


def key_args(tmp_path) -> tuple[str, str]:
    return "--public-key", str(tmp_path / "audit" / "keys" / "checkpoint_signing.pub.pem")


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


def test_verify_exits_zero_on_a_sound_log(cli, capsys, tmp_path):
    run, _ = cli
    assert run("verify", *key_args(tmp_path)) == 0
    assert "OK" in capsys.readouterr().out


def test_verify_exits_non_zero_and_names_the_first_bad_record(cli, capsys, store_url, tmp_path):
    run, receipts = cli
    attacker.run(store_url, [("UPDATE audit_records SET header = replace(header, '\"deny\"', '\"overturned\"') "
                              "WHERE seq = 4", ())])
    assert run("verify", *key_args(tmp_path)) == 1
    out = capsys.readouterr().out
    assert "record seq 4" in out and receipts[3].decision_id in out and "edited" in out


def test_export_writes_a_bundle_that_verifies_and_detects_edits(cli, tmp_path, capsys):
    trusted = key_args(tmp_path)
    run, _ = cli
    out = tmp_path / "bundle"
    assert run("export", str(out)) == 0
    assert {p.name for p in out.iterdir()} >= {"records.jsonl", "checkpoints.jsonl", "public_key.pem",
                                              "verification.json", "verification.txt", "README.txt"}
    assert orjson.loads((out / "verification.json").read_bytes())["ok"] is True
    assert run("verify", "--bundle", str(out)) == 1  # no trusted key of its own
    assert run("verify", "--bundle", str(out), *trusted) == 0
    lines = (out / "records.jsonl").read_text().splitlines()
    record = orjson.loads(lines[2])
    record["header"] = record["header"].replace('"3"', '"9"')  # model version 3 -> 9
    lines[2] = orjson.dumps(record).decode()
    (out / "records.jsonl").write_text("\n".join(lines) + "\n")
    assert run("verify", "--bundle", str(out), *trusted) == 1
    assert "record seq 3" in capsys.readouterr().out


def test_an_export_carrying_another_key_is_refused(cli, tmp_path, capsys):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from mlobs.audit.keys.signing import public_key_pem

    run, _ = cli
    out = tmp_path / "bundle"
    assert run("export", str(out)) == 0
    (out / "public_key.pem").write_bytes(public_key_pem(Ed25519PrivateKey.generate().public_key()))
    assert run("verify", "--bundle", str(out), *key_args(tmp_path)) == 1
    assert "not the trusted key" in capsys.readouterr().err


def test_forget_raw_and_purge_commands(cli, capsys, tmp_path):
    run, receipts = cli
    assert run("raw", "--decision-id", receipts[4].decision_id, "--reason", "ticket 1") == 0
    assert orjson.loads(capsys.readouterr().out.strip()) == {"i": 4}
    assert run("forget", "alice") == 0
    assert run("raw", "--decision-id", receipts[0].decision_id, "--reason", "ticket 2") == 1
    assert run("purge") == 0
    assert "purged 0" in capsys.readouterr().out
    assert run("query", "--event-type", "raw_access") == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    assert run("verify", *key_args(tmp_path)) == 0


def test_verify_without_a_key_of_its_own_refuses_to_trust_the_one_beside_the_log(cli, capsys):
    run, _ = cli
    assert run("verify") == 1
    assert "no trusted key" in capsys.readouterr().err


def test_verify_of_a_missing_log_fails_and_creates_nothing(cli, capsys, tmp_path):
    run, _ = cli
    missing = tmp_path / "nowhere" / "audit.db"
    assert run("verify", str(missing), *key_args(tmp_path)) == 1
    assert "no audit log" in capsys.readouterr().err
    assert not missing.parent.exists()


def test_verify_of_an_empty_log_fails_unless_allowed(cli, capsys, tmp_path, backend):
    if backend != "sqlite":
        pytest.skip("an empty SQLite file")
    run, _ = cli
    empty = tmp_path / "empty.db"
    import sqlite3

    from mlobs.audit.storage.sqlite_store import SCHEMA

    sqlite3.connect(empty).executescript(SCHEMA)
    assert run("verify", str(empty), *key_args(tmp_path)) == 1
    assert "no records" in capsys.readouterr().out
    assert run("verify", str(empty), *key_args(tmp_path), "--allow-empty") == 0


def test_verify_opens_the_log_read_only_and_signs_nothing(cli, store_url, tmp_path, backend):
    if backend != "sqlite":
        pytest.skip("file modification times")
    run, _ = cli
    path = store_url.removeprefix("sqlite:///")
    import os

    before = {p: os.stat(p).st_mtime_ns for p in (path,)}
    rows = attacker.rows(store_url)
    assert run("verify", *key_args(tmp_path)) == 0
    assert {p: os.stat(p).st_mtime_ns for p in (path,)} == before and attacker.rows(store_url) == rows


def test_prove_writes_a_bundle_that_check_proof_verifies_offline_and_tampering_fails(cli, capsys, tmp_path):
    run, receipts = cli
    out = tmp_path / "proof.json"
    assert run("prove", receipts[6].decision_id, "--out", str(out), "--json") == 0
    assert run("check-proof", str(out), *key_args(tmp_path)) == 0
    assert f"decision {receipts[6].decision_id} is record 7" in capsys.readouterr().out
    bundle = orjson.loads(out.read_bytes())
    bundle["record"]["payload"] = bundle["record"]["payload"].replace("\"B\"", "\"A\"")  # income band
    out.write_bytes(orjson.dumps(bundle))
    assert run("check-proof", str(out), *key_args(tmp_path)) == 1
    assert "FAILED" in capsys.readouterr().err


def test_prove_writes_the_compact_form_by_default_and_check_proof_refuses_it_altered(cli, capsys, tmp_path):
    run, receipts = cli
    out = tmp_path / "proof.bin"
    assert run("prove", receipts[6].decision_id, "--out", str(out), "--hash-only") == 0
    assert out.read_bytes().startswith(b"MLIP")
    assert run("check-proof", str(out), *key_args(tmp_path)) == 0
    said = capsys.readouterr().out
    assert "is record 7" in said and f"said to be decision {receipts[6].decision_id}" in said and "not checked" in said
    data = bytearray(out.read_bytes())
    data[-150] ^= 1  # within the signed checkpoint
    out.write_bytes(bytes(data))
    assert run("check-proof", str(out), *key_args(tmp_path)) == 1
    assert "FAILED" in capsys.readouterr().err


def test_query_and_export_sign_nothing_over_an_unsigned_tail(cli, tmp_path, store_url, capsys):
    from mlobs.audit.storage.tree_store import open_reader

    run, _ = cli
    # Two records left unsigned, as by a process killed before its next checkpoint.
    log = AuditLog.open(AuditSettings(store_url=store_url, checkpoint_every=1000, checkpoint_interval_s=3600),
                        base_dir=tmp_path / "audit")
    log.append(decision(100))
    log.append(decision(101))
    log._writer._sign_at_close = False
    log.close()

    def signed():
        reader, close = open_reader(store_url)
        try:
            return reader.notes(), attacker.rows(store_url)
        finally:
            close()

    before = signed()
    assert run("query", "--event-type", "decision") == 0
    assert run("export", str(tmp_path / "bundle")) == 0
    assert run("verify", *key_args(tmp_path)) == 1
    assert "covered by no signed checkpoint" in capsys.readouterr().out
    assert signed() == before


def _no_log_here(kind: str, directory) -> str:
    """A store URL pointing at something that is not an audit log."""
    path = directory / "audit.db"
    if kind == "empty file":
        path.write_bytes(b"")
    elif kind == "not SQLite":
        path.write_bytes(b"not a database\n" * 100)
    elif kind == "directory":
        path.mkdir()
    return f"sqlite:///{path}"


COMMANDS = [["query"], ["export", "{tmp}/out"], ["forget", "alice"], ["purge"],
            ["raw", "--decision-id", "d1", "--reason", "audit"], ["replay", "d1"], ["checkpoint"], ["public-key"],
            ["rotate-key"], ["prove", "d1", "--out", "{tmp}/p.bin"], ["verify", "--public-key", "{tmp}/k.pem"],
            ["prune-artifacts", "--artifacts-dir", "{tmp}/no-artifacts"]]


@pytest.mark.parametrize("kind", ["missing", "empty file", "not SQLite", "directory"])
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_every_command_on_a_place_holding_no_audit_log_fails_with_a_message_and_creates_nothing(
        command, kind, tmp_path, monkeypatch, capsys):
    place = tmp_path / "place"
    place.mkdir()
    monkeypatch.setenv("MLOBS_ARTIFACTS_DIR", str(place / "artifacts"))
    monkeypatch.setenv("MLOBS_AUDIT__STORE_URL", _no_log_here(kind, place))
    monkeypatch.setenv("MLOBS_AUDIT__KEYS_DIR", str(place / "keys"))
    before = sorted(place.rglob("*"))
    parser = argparse.ArgumentParser(prog="mlobs")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["audit", *[part.format(tmp=place) for part in command]])
    assert args.func(args) != 0
    err = capsys.readouterr().err
    assert err.strip() and "Traceback" not in err
    assert sorted(place.rglob("*")) == before


def test_an_operator_pointed_at_the_wrong_keys_dir_is_refused_and_the_subject_is_not_reported_erased(
        cli, capsys, tmp_path, monkeypatch):
    run, receipts = cli
    monkeypatch.setenv("MLOBS_AUDIT__KEYS_DIR", str(tmp_path / "mistyped-keys"))
    assert run("forget", "alice") == 2
    err = capsys.readouterr()
    assert "refusing to make new keys" in err.err and "erased" not in err.out
    assert not (tmp_path / "mistyped-keys").exists()
    monkeypatch.delenv("MLOBS_AUDIT__KEYS_DIR")
    assert run("query", "--subject", "alice") == 0
    assert len(capsys.readouterr().out.splitlines()) == 3
    assert run("verify", *key_args(tmp_path)) == 0
