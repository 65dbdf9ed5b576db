"""`--origin` on `mlobs audit check-proof` and `verify`: two deployments whose checkpoints one key signs
(a key copied between them, or an auditor who trusts both logs' keys) are told apart by the log's name."""

from __future__ import annotations

import argparse
import shutil

import pytest

from audit.factories import decision
from mlobs.audit import AuditLog, AuditSettings
from mlobs.audit.cli import register

BANK_A, BANK_B = "bank-a.example/credit", "bank-b.example/credit"


@pytest.fixture
def two_logs(tmp_path, monkeypatch):
    """Closed logs of two deployments named BANK_A and BANK_B, signed by the same checkpoint key;
    a proof of one decision from each; and the CLI."""
    settings, proven = {}, {}
    for name, origin in (("a", BANK_A), ("b", BANK_B)):
        if name == "b":  # the second deployment was set up from a copy of the first one's signing key
            (tmp_path / "b" / "keys").mkdir(parents=True)
            for key in ("checkpoint_signing.pem", "checkpoint_signing.pub.pem"):
                shutil.copy(tmp_path / "a" / "keys" / key, tmp_path / "b" / "keys" / key)
        settings[name] = AuditSettings(origin=origin, checkpoint_every=5).resolved(tmp_path / name)
        log = AuditLog.open(settings[name])
        proven[name] = [log.append(decision(i)) for i in range(8)][3].decision_id
        log.checkpoint()
        log.close()
    monkeypatch.setenv("MLOBS_AUDIT__STORE_URL", settings["a"].store_url)
    parser = argparse.ArgumentParser(prog="mlobs")
    register(parser.add_subparsers(dest="command", required=True))

    def cli(*argv: str) -> int:
        args = parser.parse_args(["audit", *argv])
        return args.func(args)

    proofs = {}
    for name in ("a", "b"):
        proofs[name] = tmp_path / f"proof-{name}.bin"
        assert cli("prove", proven[name], "--out", str(proofs[name]), "--path", settings[name].store_url) == 0
    key = str(tmp_path / "a" / "keys" / "checkpoint_signing.pub.pem")
    return cli, proofs, key, settings


def test_without_an_origin_a_proof_from_another_log_under_the_same_key_passes_check_proof(two_logs, capsys):
    cli, proofs, key, _ = two_logs
    assert cli("check-proof", str(proofs["b"]), "--public-key", key) == 0
    assert BANK_B in capsys.readouterr().out  # the OK line names the log, but nothing required it


def test_check_proof_with_an_origin_refuses_another_logs_proof_naming_both_logs(two_logs, capsys):
    cli, proofs, key, _ = two_logs
    assert cli("check-proof", str(proofs["b"]), "--public-key", key, "--origin", BANK_A) == 1
    err = capsys.readouterr().err
    assert "check-proof: FAILED" in err and BANK_A in err and BANK_B in err and "Traceback" not in err


def test_check_proof_with_the_logs_own_origin_passes(two_logs, capsys):
    cli, proofs, key, _ = two_logs
    assert cli("check-proof", str(proofs["a"]), "--public-key", key, "--origin", BANK_A) == 0
    assert f"signed by {BANK_A}" in capsys.readouterr().out


def test_verify_with_another_origin_fails_naming_both_logs_and_with_its_own_passes(two_logs, capsys):
    cli, _, key, settings = two_logs
    path = settings["b"].store_url
    assert cli("verify", path, "--public-key", key) == 0
    assert f"name the log '{BANK_B}'" in capsys.readouterr().out  # what to pin, said when nothing was
    assert cli("verify", path, "--public-key", key, "--origin", BANK_A) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and BANK_A in out and BANK_B in out
    assert cli("verify", path, "--public-key", key, "--origin", BANK_B) == 0


def test_verify_refuses_an_origin_it_cannot_check_on_an_export(two_logs, tmp_path, capsys):
    cli, _, key, _ = two_logs
    assert cli("verify", "--bundle", str(tmp_path / "export"), "--public-key", key, "--origin", BANK_A) == 2
    assert "--origin cannot be checked on an export" in capsys.readouterr().err


def test_verify_with_an_origin_refuses_a_witness_that_holds_another_logs_checkpoint(two_logs):
    import sqlite3

    from mlobs.audit.keys.signing import load_public_key
    from mlobs.audit.verification.trust_verify import Witnessed, verify_log

    _, _, key, settings = two_logs
    conn = sqlite3.connect(settings["b"].store_url.removeprefix("sqlite:///"))
    other = conn.execute("SELECT note FROM audit_tree_heads ORDER BY size DESC LIMIT 1").fetchone()[0]
    conn.close()
    report = verify_log(settings["a"].store_url, load_public_key(key), witness=Witnessed([other], "w"), origin=BANK_A)
    assert not report.ok and "witnesses another log" in report.problem.what
    assert BANK_A in report.problem.what and BANK_B in report.problem.what
