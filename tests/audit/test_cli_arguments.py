"""`mlobs audit ...` given what an operator mistypes or an attacker counts on: a kept checkpoint file
that must be read, values out of range, outputs that cannot be written. Each is a message and a
non-zero exit, never a traceback and never a silent pass."""

from __future__ import annotations

import argparse
import sqlite3

import orjson
import pytest

from audit import attacker
from audit.factories import decision
from mlobs.audit import AuditLog, AuditSettings
from mlobs.audit.cli import register


@pytest.fixture
def cli(monkeypatch, tmp_path):
    """A closed SQLite log of 12 decisions signed every 5, its checkpoints also kept in a file elsewhere."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    monkeypatch.setenv("MLOBS_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    monkeypatch.setenv("MLOBS_AUDIT__STORE_URL", url)
    log = AuditLog.open(AuditSettings(store_url=url, checkpoint_every=5), base_dir=tmp_path / "audit")
    receipts = [log.append(decision(i, subject="alice", raw={"i": i})) for i in range(12)]
    log.close()
    kept = tmp_path / "elsewhere" / "checkpoints.jsonl"
    kept.parent.mkdir()
    conn = sqlite3.connect(tmp_path / "audit.db")
    fields = ("seq", "hash", "ts", "key_id", "signature")
    rows = conn.execute(f"SELECT {', '.join(fields)} FROM audit_checkpoints").fetchall()
    kept.write_bytes(b"".join(orjson.dumps(dict(zip(fields, row))) + b"\n" for row in rows))
    conn.close()
    parser = argparse.ArgumentParser(prog="mlobs")
    register(parser.add_subparsers(dest="command", required=True))

    def run(*argv: str) -> int:
        args = parser.parse_args(["audit", *argv])
        return args.func(args)

    key = str(tmp_path / "audit" / "keys" / "checkpoint_signing.pub.pem")
    return run, receipts, key, kept, url


def test_verify_reads_the_kept_checkpoint_file_it_is_given_and_catches_the_truncation_the_store_hides(cli, capsys):
    run, _, key, kept, url = cli
    attacker.run(url, [("DELETE FROM audit_records WHERE seq > 5", ()),
                       ("DELETE FROM audit_checkpoints WHERE seq > 5", ()),
                       ("DELETE FROM audit_tree_heads WHERE size > 5", ()),
                       ("DELETE FROM audit_raw_rows WHERE seq > 5", ())])
    assert run("verify", "--public-key", key) == 0  # the store alone cannot tell
    capsys.readouterr()
    assert run("verify", "--public-key", key, "--checkpoints", str(kept)) == 1
    assert "truncated" in capsys.readouterr().out


@pytest.mark.parametrize("content", [None, b"not json\n", b'{"seq": 1}\n', b"[1]\n"],
                         ids=["missing", "not JSON", "a line without the fields", "a JSON list"])
def test_verify_given_a_kept_checkpoint_file_it_cannot_read_fails_rather_than_pass_without_it(
        cli, capsys, tmp_path, content):
    run, _, key, _, _ = cli
    path = tmp_path / "kept.jsonl"
    if content is not None:
        path.write_bytes(content)
    assert run("verify", "--public-key", key, "--checkpoints", str(path)) == 1
    assert "FAILED" in capsys.readouterr().err


def test_a_kept_checkpoint_signed_by_another_key_fails_verify(cli, capsys, tmp_path):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from mlobs.audit.keys.signing import Signer

    run, _, key, _, _ = cli
    forged = Signer(Ed25519PrivateKey.generate()).sign(40, "ab" * 32, "2026-01-01T00:00:00.000000Z")
    path = tmp_path / "forged.jsonl"
    path.write_bytes(orjson.dumps(forged.to_dict()) + b"\n")
    assert run("verify", "--public-key", key, "--checkpoints", str(path)) == 1


@pytest.mark.parametrize("argv", [["query", "--since", "yesterday"], ["query", "--until", "2026-13-45"]],
                         ids=["since", "until"])
def test_a_query_time_bound_that_is_not_a_time_is_a_message_not_a_traceback(cli, capsys, argv):
    run = cli[0]
    assert run(*argv) == 2
    assert capsys.readouterr().err.startswith("audit: ")


@pytest.mark.parametrize("subject", ["", "   "])
def test_forget_of_an_empty_subject_id_is_refused_and_records_no_erasure(cli, capsys, subject):
    run, receipts, key, _, url = cli
    assert run("forget", subject) == 2
    assert "erased" not in capsys.readouterr().out
    assert len(attacker.rows(url)) == 12


@pytest.mark.parametrize("where", ["a directory", "a missing directory"])
def test_prove_to_a_place_it_cannot_write_is_a_message(cli, capsys, tmp_path, where):
    run, receipts = cli[0], cli[1]
    out = tmp_path if where == "a directory" else tmp_path / "no" / "such" / "p.bin"
    assert run("prove", receipts[2].decision_id, "--out", str(out)) == 1
    assert capsys.readouterr().err.startswith("audit prove: ")


def test_export_to_a_file_path_is_a_message(cli, capsys, tmp_path):
    run = cli[0]
    target = tmp_path / "a-file"
    target.write_text("keep me")
    assert run("export", str(target)) == 2
    assert capsys.readouterr().err.startswith("audit: ") and target.read_text() == "keep me"


@pytest.mark.parametrize("argv", [["replay", "--sample", "-5"], ["replay", "--sample", "0"],
                                  ["replay", "--sample", "many"], ["query", "--limit", str(2**70)],
                                  ["query", "--limit", "-1"]],
                         ids=["negative sample", "empty sample", "sample not a number", "limit past 2**63",
                              "negative limit"])
def test_a_count_out_of_range_is_a_usage_error(cli, capsys, argv):
    with pytest.raises(SystemExit) as exit_:
        cli[0](*argv)
    assert exit_.value.code == 2 and argv[1] in capsys.readouterr().err


@pytest.mark.parametrize("subject", ["A-never-seen", "alice"], ids=["a mistyped id", "an id erased before"])
def test_forget_that_finds_nothing_to_erase_says_so_and_exits_non_zero(cli, capsys, subject):
    run = cli[0]
    if subject == "alice":
        assert run("forget", "alice") == 0
        assert "subject erased" in capsys.readouterr().out
    assert run("forget", subject) == 1
    out = capsys.readouterr()
    assert "nothing erased" in out.err and "subject erased" not in out.out


@pytest.mark.parametrize("edit", ["a line that is not JSON", "a JSON list", "an object without the fields",
                                  "a line cut short", "the records file removed", "a checkpoint line not one"])
def test_an_exported_bundle_edited_into_bad_shape_fails_verify_with_a_message(cli, capsys, tmp_path, edit):
    run, key = cli[0], cli[2]
    out = tmp_path / "export"
    assert run("export", str(out)) == 0
    records, checkpoints = out / "records.jsonl", out / "checkpoints.jsonl"
    if edit == "the records file removed":
        records.unlink()
    elif edit == "a line cut short":
        records.write_bytes(records.read_bytes()[:300])
    elif edit == "a checkpoint line not one":
        checkpoints.write_bytes(checkpoints.read_bytes() + b"[1]\n")
    else:
        line = {"a line that is not JSON": b"garbage", "a JSON list": b"[1, 2]", "an object without the fields": b"{}"}
        records.write_bytes(records.read_bytes() + line[edit] + b"\n")
    capsys.readouterr()
    assert run("verify", "--public-key", key, "--bundle", str(out)) == 1
    assert capsys.readouterr().err.startswith("audit verify: FAILED: ")


@pytest.mark.parametrize("workers", ["0", "-3", "100000", str(2**70), "1e9", "many"],
                         ids=["zero", "negative", "absurd", "past 2**63", "a float", "not a number"])
def test_verify_workers_out_of_range_is_a_usage_error_naming_the_bound(cli, capsys, workers):
    from mlobs.audit.verification.parallel_verify import max_workers

    run, _, key, _, _ = cli
    with pytest.raises(SystemExit) as exit_:
        run("verify", "--public-key", key, "--workers", workers)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "--workers" in err
    assert f"from 1 to {max_workers()}" in err or "is not a whole number" in err


def test_verify_workers_from_the_shell_at_zero_exits_2_without_a_traceback(cli):
    import subprocess
    import sys

    _, _, key, _, url = cli
    done = subprocess.run([sys.executable, "-m", "mlobs.cli", "audit", "verify", url, "--public-key", key,
                           "--workers", "0"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr and "workers must be" in done.stderr


@pytest.mark.parametrize("workers", [0, -1, 10**6, True])
def test_the_library_refuses_a_worker_count_no_machine_should_start(cli, workers):
    from pathlib import Path

    from mlobs.audit.keys.signing import load_public_key
    from mlobs.audit.verification.trust_verify import verify_log

    _, _, key, _, url = cli
    with pytest.raises(ValueError, match="workers must be"):
        verify_log(url, load_public_key(key), workers=workers)
    log = AuditLog.open(AuditSettings(store_url=url), base_dir=Path(key).parent.parent, read_only=True)
    try:
        with pytest.raises(ValueError, match="workers must be"):
            log.verify(workers=workers)
    finally:
        log.close()
