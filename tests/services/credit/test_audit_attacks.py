"""Attacks on a copy of a log the credit service made: `mlobs audit verify` names them, and the operator's
commands refuse what would leave a subject's data in place."""

from __future__ import annotations

import argparse
import os
import shutil

import orjson
import pytest
from fastapi.testclient import TestClient

from audit import attacker
from mlobs.audit.cli import register
from mlobs.settings import Settings
from mlobs_services.credit import data
from mlobs_services.credit.service import create_app


@pytest.fixture(scope="module")
def credit_log(tmp_path_factory, artifacts_dir, credit_model):
    """A log of 30 real credit decisions (each with its raw request), made once."""
    from conftest import Sinks
    root = tmp_path_factory.mktemp("credit-log")
    env = {"MLOBS_ARTIFACTS_DIR": str(artifacts_dir), "MLOBS_AUDIT__STORE_URL": f"sqlite:///{root / 'audit.db'}",
           "MLOBS_AUDIT__KEYS_DIR": str(root / "keys")}
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        app = create_app(Settings(_env_file=None), configure_logging=False, **Sinks().kwargs())
        with TestClient(app) as client:
            for row in data.generate(30, seed=31):
                response = client.post("/predict", json={k: row[k] for k in ("applicant_id", "personal", "features")})
                assert response.status_code == 200
    # What an auditor holds apart from the log: the checkpoint key as published when the log began.
    shutil.copy(root / "keys" / "checkpoint_signing.pub.pem", root / "trusted.pub.pem")
    return root


@pytest.fixture
def copy(credit_log, tmp_path, monkeypatch):
    """A copy of the credit log and its keys; the CLI pointed at it, trusting the published key."""
    shutil.copy(credit_log / "audit.db", tmp_path / "audit.db")
    shutil.copytree(credit_log / "keys", tmp_path / "keys")
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    monkeypatch.setenv("MLOBS_AUDIT__STORE_URL", url)
    monkeypatch.setenv("MLOBS_AUDIT__KEYS_DIR", str(tmp_path / "keys"))
    monkeypatch.setenv("MLOBS_TEST_TRUSTED_KEY", str(credit_log / "trusted.pub.pem"))
    return url


def verify(capsys) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="mlobs")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["audit", "verify", "--public-key", os.environ["MLOBS_TEST_TRUSTED_KEY"]])
    code = args.func(args)
    return code, capsys.readouterr().out


def test_the_untouched_copy_verifies(copy, capsys):
    code, out = verify(capsys)
    assert code == 0, out


@pytest.mark.parametrize("attack, seq, what", [
    ([("UPDATE audit_raw_rows SET payload = (SELECT payload FROM audit_raw_rows WHERE seq = 12) WHERE seq = 7", ())],
     7, "swapped or altered"),
    ([("DELETE FROM audit_raw_rows WHERE seq = 9", ())], 9, "missing"),
    ([("INSERT INTO audit_raw_rows (seq, payload) VALUES (31, x'7b7d')", ())], 31, "inserted"),
    ([("UPDATE audit_records SET payload = CAST(payload AS TEXT) WHERE seq = 5", ())], 5, "TEXT where BLOB"),
], ids=["raw row swapped", "raw row deleted", "raw row planted", "payload made TEXT"])
def test_an_attack_on_the_copy_fails_verify_naming_the_first_bad_seq(copy, capsys, attack, seq, what):
    attacker.run(copy, attack)
    code, out = verify(capsys)
    assert code == 1 and f"record seq {seq}" in out and what in out, out


def cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="mlobs")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["audit", *argv])
    return args.func(args)


def test_an_applicant_hidden_from_the_lookup_still_has_their_record_named_by_verify(copy, capsys, tmp_path):
    import sqlite3

    from mlobs.audit.storage.sqlite_lookup import lookup_path

    applicant = data.generate(30, seed=31)[11]["applicant_id"]
    assert cli("query", "--subject", applicant) == 0
    seq = orjson.loads(capsys.readouterr().out.splitlines()[0])["seq"]
    with sqlite3.connect(lookup_path(tmp_path / "audit.db")) as conn:
        conn.execute("DELETE FROM lookup_by_subject WHERE seq = ?", (seq,))
    assert cli("query", "--subject", applicant) == 0 and capsys.readouterr().out == ""  # hidden from their request
    code, out = verify(capsys)
    assert code == 1 and f"record seq {seq}" in out and "lookup" in out, out


def test_forgetting_a_mistyped_applicant_id_erases_nothing_and_says_so(copy, capsys):
    applicant = data.generate(30, seed=31)[3]["applicant_id"]
    assert cli("forget", applicant[:-1] + "X") == 1
    assert "nothing erased" in capsys.readouterr().err
    assert cli("query", "--subject", applicant) == 0 and capsys.readouterr().out.strip()
    assert cli("forget", applicant) == 0 and "subject erased" in capsys.readouterr().out
    assert cli("query", "--subject", applicant) == 0 and capsys.readouterr().out == ""


def test_an_operator_pointing_at_missing_keys_is_refused_before_anything_is_signed(copy, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("MLOBS_AUDIT__KEYS_DIR", str(tmp_path / "restored-without-keys"))
    assert cli("checkpoint") == 2
    assert "refusing to make new keys" in capsys.readouterr().err
    monkeypatch.setenv("MLOBS_AUDIT__KEYS_DIR", str(tmp_path / "keys"))
    code, out = verify(capsys)
    assert code == 0, out
