"""Attacks on a copy of a log written as the credit service writes it, with a witness that polled it:
each is caught by the default `mlobs audit verify PATH --public-key K --witness W`, naming the first
bad record where there is one."""

from __future__ import annotations

import argparse
import shutil
import sqlite3

import orjson
import pytest
from audit import attacker
from audit.witness_helpers import log_app, witness_for
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mlobs.audit import AuditLog, AuditSettings, Decision
from mlobs.audit.checkpoint_note import NoteSigner, TreeHead
from mlobs.audit.merkle import CompactRange, leaf_hash
from mlobs.audit.record import GENESIS_HASH, header_text, record_hash
from mlobs.audit.keys.signing import Signer, load_public_key
from mlobs.audit.proof_cli import load_witness
from mlobs.audit.storage.tree_store import entry
from mlobs.audit.verification.trust_verify import Witnessed, verify_log
from mlobs.audit.witness.store import read_notes

ROUNDS, PER_ROUND, ROLLBACK_AFTER = 6, 40, 3


def credit_decision(i: int) -> Decision:
    """What the credit service records for one application."""
    return Decision(
        service="credit", model="credit-gbm", model_version="1", decision_id=f"{i:032x}",
        output={"score": 600 + i % 200, "default_probability": round((i % 97) / 100, 6)},
        outcome="decline" if i % 3 else "approve", reason_codes=["debt_ratio"] if i % 3 else [],
        subject=f"applicant-{i % 37}", inputs={"income_band": "B", "age_band": "40s", "loan_amount": 1000 + i},
        personal={"name": f"Applicant {i}", "age": 44}, raw={"applicant_id": f"applicant-{i % 37}", "i": i},
        trace_id=f"{i:032x}", latency_ms=3.5)


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    """A closed log of 250 decisions, checkpoints every 50 and after each round, a witness that
    polled after each round, and a backup taken after round 3."""
    base = tmp_path_factory.mktemp("credit-log")
    settings = AuditSettings(store_url=f"sqlite:///{base / 'audit.db'}", checkpoint_every=50).resolved(base)
    log = AuditLog.open(settings)
    witness = witness_for(log_app(settings.store_url), settings.keys_dir / "checkpoint_signing.pub.pem",
                          base / "witness")
    n = 0
    for round_ in range(ROUNDS):
        for pending in [log.submit(credit_decision(n + k)) for k in range(PER_ROUND)]:
            pending.result(30)
        n += PER_ROUND
        log.checkpoint()
        assert witness.poll().size == n
        if round_ + 1 == ROLLBACK_AFTER:
            backup(base / "audit.db", base / "older.db")
    for k in range(10):
        log.append(credit_decision(n + k))
    log.close()
    assert witness.poll().size == n + 10
    return base


def backup(src, dst) -> None:
    source, target = sqlite3.connect(src), sqlite3.connect(dst)
    source.backup(target)
    source.close()
    target.close()


@pytest.fixture
def copy(original, tmp_path):
    """A copy of the log to attack; returns its URL."""
    backup(original / "audit.db", tmp_path / "audit.db")
    return f"sqlite:///{tmp_path / 'audit.db'}"


def verify(original, url):
    """What `verify --witness DIR --witness-key K` checks: the witness read as the command reads it."""
    return verify_log(url, load_public_key(original / "keys" / "checkpoint_signing.pub.pem"),
                      witness=load_witness(str(original / "witness"),
                                           load_public_key(original / "witness" / "witness_key.pub.pem")))


def rehash_from(url: str, first: int, edit) -> None:
    """Rewrite records from `first` on with edit(fields, payload) -> payload and a consistent chain."""
    statements, prev = [], GENESIS_HASH
    for seq, header, payload, hash_ in attacker.rows(url):
        if seq >= first:
            fields = orjson.loads(header)
            payload = edit(fields, bytes(payload)) if seq == first else bytes(payload)
            fields[0], fields[12] = seq, prev
            header = header_text(fields)
            hash_ = record_hash(header, payload)
            statements.append(("UPDATE audit_records SET header = ?, payload = ?, hash = ? WHERE seq = ?",
                               (header, payload, hash_, seq)))
        prev = hash_
    attacker.run(url, statements)


def test_the_untouched_copy_verifies(original, copy):
    report = verify(original, copy)
    assert report.ok and report.records == 250, report.text()


def test_payload_edit_with_the_whole_tail_rehashed(original, copy):
    rehash_from(copy, 100, lambda f, p: p.replace(b'"decline"', b'"approve"').replace(b'"B"', b'"A"'))
    report = verify(original, copy)
    assert not report.ok and report.problem.seq == 100 and "rewritten" in report.problem.what, report.text()


def test_two_payloads_swapped(original, copy):
    a, b = attacker.rows(copy)[59][2], attacker.rows(copy)[60][2]
    attacker.run(copy, [("UPDATE audit_records SET payload = ? WHERE seq = 60", (bytes(b),)),
                        ("UPDATE audit_records SET payload = ? WHERE seq = 61", (bytes(a),))])
    report = verify(original, copy)
    assert not report.ok and report.problem.seq == 60, report.text()


def test_insertion_with_renumbering(original, copy):
    rows = attacker.rows(copy)
    forged = attacker.forged_record(copy, 130, rows[128][3])
    attacker.run(copy, [("UPDATE audit_records SET seq = seq + 1000 WHERE seq >= 130", ()),
                        ("UPDATE audit_records SET seq = seq - 999 WHERE seq >= 1000", ()),
                        ("INSERT INTO audit_records (seq, header, payload, hash) VALUES (?, ?, ?, ?)", forged)])
    rehash_from(copy, 131, lambda f, p: p)
    report = verify(original, copy)
    assert not report.ok and 130 <= report.problem.seq <= 160 and "rewritten" in report.problem.what, report.text()


def test_append_of_a_forged_record(original, copy):
    last = attacker.rows(copy)[-1]
    attacker.run(copy, [("INSERT INTO audit_records (seq, header, payload, hash) VALUES (?, ?, ?, ?)",
                         attacker.forged_record(copy, 251, last[3]))])
    report = verify(original, copy)
    assert not report.ok and report.problem.seq == 251 and "no signed checkpoint" in report.problem.what


@pytest.mark.parametrize("keep", [245, 240])  # inside the last checkpoint's span, and right at a checkpoint
def test_tail_truncation(original, copy, keep):
    attacker.run(copy, [("DELETE FROM audit_records WHERE seq > ?", (keep,))])
    report = verify(original, copy)
    assert not report.ok and report.problem.seq == keep + 1, report.text()


def delete_checkpoints_after(url: str, size: int) -> None:
    attacker.run(url, [("DELETE FROM audit_checkpoints WHERE seq > ?", (size,)),
                       ("DELETE FROM audit_tree_heads WHERE size > ?", (size,))])


def test_truncation_with_the_checkpoints_that_covered_it_deleted(original, copy):
    attacker.run(copy, [("DELETE FROM audit_records WHERE seq > 200", ())])
    delete_checkpoints_after(copy, 200)
    report = verify(original, copy)
    assert not report.ok and report.problem.seq == 201 and "witness" in report.problem.what, report.text()


def test_rollback_of_the_whole_database_to_an_older_copy(original, tmp_path):
    shutil.copy(original / "older.db", tmp_path / "audit.db")
    report = verify(original, f"sqlite:///{tmp_path / 'audit.db'}")
    assert not report.ok and report.problem.seq == ROLLBACK_AFTER * PER_ROUND + 1, report.text()
    assert "truncation or rollback" in report.problem.what


def test_deletion_of_the_latest_checkpoints(original, copy):
    delete_checkpoints_after(copy, 200)
    report = verify(original, copy)
    assert not report.ok and "checkpoints were deleted" in report.problem.what, report.text()


def test_a_new_key_with_everything_re_signed(original, copy):
    rehash_from(copy, 10, lambda f, p: p.replace(b'"decline"', b'"approve"'))
    new = Ed25519PrivateKey.generate()
    signer, notes = Signer(new), NoteSigner("mlobs.local/audit", new)
    rows = attacker.rows(copy)
    statements = [("DELETE FROM audit_checkpoints", ()), ("DELETE FROM audit_tree_heads", ())]
    rng = CompactRange()
    for seq, header, payload, hash_ in rows:
        rng.append_leaves([leaf_hash(entry(header, bytes(payload)))])
        if seq % 50 == 0:
            cp = signer.sign(seq, hash_, "2026-01-01T00:00:00.000000Z")
            statements.append(("INSERT INTO audit_checkpoints VALUES (?, ?, ?, ?, ?)",
                               (cp.seq, cp.hash, cp.ts, cp.key_id, cp.signature)))
            statements.append(("INSERT INTO audit_tree_heads VALUES (?, ?)",
                               (seq, notes.sign(TreeHead("mlobs.local/audit", seq, rng.root(), hash_)))))
    attacker.run(copy, statements)
    report = verify(original, copy)
    assert not report.ok and "signature" in report.problem.what, report.text()


def test_dropped_triggers_then_update(original, copy):
    attacker.run(copy, [("UPDATE audit_records SET header = replace(header, '\"decline\"', '\"approve\"') "
                         "WHERE seq = 77", ())])
    report = verify(original, copy)
    assert not report.ok and report.problem.seq == 77, report.text()


def test_pseudonym_replaced_with_the_chain_rehashed(original, copy):
    def other_subject(fields, payload):
        fields[10] = "f" * 64
        return payload

    rehash_from(copy, 90, other_subject)
    report = verify(original, copy)
    assert not report.ok and report.problem.seq == 90, report.text()


@pytest.mark.parametrize("attack, seq, what", [
    ([("UPDATE audit_raw_rows SET payload = (SELECT payload FROM audit_raw_rows WHERE seq = 12) WHERE seq = 7", ())],
     7, "swapped or altered"),
    ([("DELETE FROM audit_raw_rows WHERE seq = 9", ())], 9, "missing"),
    ([("INSERT INTO audit_raw_rows (seq, payload) VALUES (252, x'7b7d')", ())], 252, "inserted"),
    ([("UPDATE audit_records SET payload = CAST(payload AS TEXT) WHERE seq = 5", ())], 5, "TEXT where BLOB"),
], ids=["raw row swapped", "raw row deleted", "raw row planted", "payload type changed"])
def test_raw_store_and_type_attacks(original, copy, attack, seq, what):
    attacker.run(copy, attack)
    report = verify(original, copy)
    assert not report.ok and report.problem.seq == seq and what in report.problem.what, report.text()


def test_the_cli_names_the_first_bad_record_and_exits_non_zero(original, copy, capsys):
    from mlobs.audit.cli import register

    attacker.run(copy, [("UPDATE audit_records SET payload = ? WHERE seq = 33", (b'{"output":"forged"}',))])
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["audit", "verify", copy.removeprefix("sqlite:///"),
                              "--public-key", str(original / "keys" / "checkpoint_signing.pub.pem"),
                              "--witness", str(original / "witness"),
                              "--witness-key", str(original / "witness" / "witness_key.pub.pem")])
    assert args.func(args) == 1
    assert "record seq 33" in capsys.readouterr().out


@pytest.mark.slow  # verifier processes
def test_checked_by_several_processes_the_same_log_gives_the_same_answers(original, copy):
    key = load_public_key(original / "keys" / "checkpoint_signing.pub.pem")
    witnessed = Witnessed(read_notes(original / "witness"), "w")
    assert verify_log(copy, key, witness=witnessed, workers=3).ok
    rehash_from(copy, 100, lambda f, p: p.replace(b'"B"', b'"A"'))
    report = verify_log(copy, key, witness=witnessed, workers=3)
    assert not report.ok and report.problem.seq == 100, report.text()
    attacker.run(copy, [("UPDATE audit_records SET payload = ? WHERE seq = 170", (b'{"output":"forged"}',))])
    report = verify_log(copy, key, witness=witnessed, workers=3)
    assert not report.ok and report.problem.seq == 100, report.text()
