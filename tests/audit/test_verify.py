from __future__ import annotations

import subprocess
import sys

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit import attacker
from audit.factories import decision
from mlobs.audit.keys.signing import Signer, read_checkpoint_file
from mlobs.audit.verify import verify_rows


@pytest.fixture
def filled(make_log, audit_settings, tmp_path):
    """30 records (signed checkpoints every 10, mirrored to a file), log closed; returns a reopen function."""
    mirror = tmp_path / "kept-checkpoints.jsonl"
    first = make_log(checkpoint_mirror=mirror)
    for i in range(30):
        first.append(decision(i, subject=f"s{i}"))
    first.close()
    return lambda: make_log(checkpoint_mirror=mirror), mirror


def test_untouched_log_verifies(filled):
    reopen, mirror = filled
    report = reopen().verify(mirror)
    assert report.ok and report.records == 30 and report.checkpoints_checked >= 6


def test_changed_header_field_is_detected_at_its_record(filled, store_url):
    reopen, _ = filled
    attacker.run(store_url, [("UPDATE audit_records SET header = replace(header, '\"deny\"', '\"overturned\"') "
                              "WHERE seq = 8", ())])
    assert '"overturned"' in attacker.rows(store_url)[7][1]
    report = reopen().verify()
    assert not report.ok and report.problem.seq == 8 and "edited" in report.problem.what
    assert report.problem.decision_id == orjson.loads(attacker.rows(store_url)[7][1])[3]


def test_changed_payload_byte_is_detected_at_its_record(filled, store_url):
    reopen, _ = filled
    payload = bytearray(attacker.rows(store_url)[11][2])
    payload[payload.index(b"B")] = ord("A")  # income band B -> A
    attacker.run(store_url, [("UPDATE audit_records SET payload = ? WHERE seq = 12", (bytes(payload),))])
    report = reopen().verify()
    assert not report.ok and report.problem.seq == 12


def test_deleted_record_is_detected_and_named(filled, store_url):
    reopen, _ = filled
    attacker.run(store_url, [("DELETE FROM audit_records WHERE seq = 15", ())])
    report = reopen().verify()
    assert not report.ok and report.problem.seq == 15 and "missing" in report.problem.what


def test_inserted_record_is_detected(filled, store_url):
    reopen, _ = filled
    prev = attacker.rows(store_url)[11][3]
    attacker.run(store_url, [
        ("UPDATE audit_records SET seq = seq + 1000 WHERE seq >= 13", ()),
        ("UPDATE audit_records SET seq = seq - 999 WHERE seq >= 1000", ()),
        ("INSERT INTO audit_records (seq, header, payload, hash) VALUES (?, ?, ?, ?)",
         attacker.forged_record(store_url, 13, prev)),
    ])
    report = reopen().verify()
    # The forged record itself is consistent; the first record it displaced no longer is.
    assert not report.ok and report.problem.seq == 14


def test_reordered_records_are_detected(filled, store_url):
    reopen, _ = filled
    attacker.run(store_url, [
        ("UPDATE audit_records SET seq = 1005 WHERE seq = 5", ()),
        ("UPDATE audit_records SET seq = 5 WHERE seq = 6", ()),
        ("UPDATE audit_records SET seq = 6 WHERE seq = 1005", ()),
    ])
    report = reopen().verify()
    assert not report.ok and report.problem.seq == 5


def test_truncation_is_detected_by_a_signed_checkpoint(filled, store_url):
    reopen, _ = filled
    attacker.run(store_url, [("DELETE FROM audit_records WHERE seq > 25", ())])
    report = reopen().verify()
    assert not report.ok and "truncated" in report.problem.what and report.problem.seq == 26


def test_truncation_with_checkpoints_deleted_is_caught_by_the_kept_checkpoint_file(filled, store_url):
    reopen, mirror = filled
    attacker.run(store_url, [("DELETE FROM audit_records WHERE seq > 25", ()),
                             ("DELETE FROM audit_checkpoints WHERE seq > 20", ())])
    log = reopen()
    assert log.verify().ok  # the store alone cannot tell: only the kept file can
    report = log.verify(mirror)
    assert not report.ok and "truncated" in report.problem.what


def test_rewritten_tail_contradicts_the_kept_signed_checkpoint(filled, store_url):
    reopen, mirror = filled
    attacker.rewrite_from(store_url, 15, outcome="approve")
    attacker.run(store_url, [("DELETE FROM audit_checkpoints WHERE seq > 10", ())])
    log = reopen()
    report = log.verify(mirror)
    assert not report.ok and report.problem.seq == 20
    assert "signed checkpoint" in report.problem.what and "after seq 10" in report.problem.what


def test_a_checkpoint_forged_with_another_key_fails_its_signature(filled, store_url, tmp_path):
    reopen, _ = filled
    attacker.rewrite_from(store_url, 15, outcome="approve")
    forger = Signer(Ed25519PrivateKey.generate())
    forged = forger.sign(30, attacker.rows(store_url)[-1][3], "2026-01-01T00:00:00.000000Z")
    attacker.run(store_url, [
        ("DELETE FROM audit_checkpoints WHERE seq > 10", ()),
        ("INSERT INTO audit_checkpoints VALUES (?, ?, ?, ?, ?)",
         (forged.seq, forged.hash, forged.ts, forged.key_id, forged.signature)),
    ])
    report = reopen().verify()
    assert not report.ok and "signature" in report.problem.what


def test_verify_rows_accepts_an_empty_log():
    report = verify_rows([], [], [])
    assert report.ok and report.records == 0


def test_mirror_file_holds_the_periodic_checkpoints(filled):
    _, mirror = filled
    assert [cp.seq for cp in read_checkpoint_file(mirror)][:3] == [10, 20, 30]


@pytest.mark.parametrize("tamper, seq", [
    ("DELETE FROM audit_records WHERE seq = 16", 16),  # the first record of the second range
    ("UPDATE audit_records SET hash = 'x' WHERE seq = 22", 22),
])
def test_parallel_verify_finds_what_a_single_process_finds(filled, store_url, tamper, seq):
    reopen, mirror = filled
    attacker.run(store_url, [(tamper, ())])
    log = reopen()
    single, parallel = log.verify(mirror, workers=1), log.verify(mirror, workers=2)
    assert not parallel.ok and parallel.problem.seq == single.problem.seq == seq


def test_parallel_verify_detects_a_rewritten_tail(filled, store_url):
    reopen, mirror = filled
    attacker.rewrite_from(store_url, 15, outcome="approve")
    report = reopen().verify(mirror, workers=3)
    assert not report.ok and report.problem.seq == 20


def test_parallel_verify_passes_a_sound_log(filled):
    reopen, mirror = filled
    report = reopen().verify(mirror, workers=2)
    assert report.ok and report.records == 30 and report.head_hash == reopen().store.head()[1]


def test_parallel_verify_works_from_a_script_without_a_main_guard(filled, audit_settings, tmp_path):
    # Workers are plain interpreters: nothing re-runs the caller's script, as multiprocessing's spawn would.
    script = tmp_path / "check.py"
    script.write_text(
        "from mlobs.audit import AuditLog, AuditSettings\n"
        f"log = AuditLog.open(AuditSettings.model_validate_json({audit_settings.model_dump_json()!r}))\n"
        "report = log.verify(workers=2)\n"
        "log.close()\n"
        "print(report.ok, report.records)\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["True", "30"], done.stderr[-2000:]
