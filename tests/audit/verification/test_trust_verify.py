"""`verify --witness` against a log whose wall clock ran ahead: the witness's cosignature time, kept on
another host, bounds when the records it covers were decided."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from audit.factories import decision
from audit.witness_helpers import log_app, witness_for

from mlobs.audit.keys.signing import load_public_key
from mlobs.audit.verification.trust_verify import Witnessed, verify_log
from mlobs.audit.witness.store import read_notes


def _witnessed(log, store_url, audit_settings, directory) -> None:
    key = audit_settings.keys_dir / "checkpoint_signing.pub.pem"
    witness = witness_for(log_app(store_url), key, directory)
    log.checkpoint()
    assert witness.poll() is not None


def _verify(log, store_url, directory, now):
    return verify_log(store_url, log.signer.public, now=now,
                      witness=Witnessed(read_notes(directory), "w", load_public_key(directory / "witness_key.pub.pem")))


def test_records_stamped_after_the_witness_cosigned_their_tree_are_noted_once_the_clock_is_back(
        log, store_url, audit_settings, clock, tmp_path):
    clock.now = datetime.now(timezone.utc)
    for i in range(3):
        log.append(decision(i))
    clock.advance(hours=1)  # the log's clock an hour ahead: no verifier can tell once it is corrected
    first_ahead = log.append(decision(3))
    log.append(decision(4))
    _witnessed(log, store_url, audit_settings, tmp_path / "witness")
    clock.advance(hours=-1)
    report = _verify(log, store_url, tmp_path / "witness", clock.now + timedelta(days=1))
    assert report.ok, report.text()
    notes = [n for n in report.notes if "that witness w cosigned" in n]
    assert len(notes) == 1 and f"2 record(s) of the tree of {first_ahead.seq + 1}" in notes[0], report.text()
    assert f"first at seq {first_ahead.seq} " in notes[0]


def test_a_log_clock_behind_the_witness_by_minutes_is_no_note(log, store_url, audit_settings, clock, tmp_path):
    clock.now = datetime.now(timezone.utc) - timedelta(minutes=10)  # the witness's host is the one ahead
    for i in range(3):
        log.append(decision(i))
    _witnessed(log, store_url, audit_settings, tmp_path / "witness")
    report = _verify(log, store_url, tmp_path / "witness", clock.now + timedelta(days=1))
    assert report.ok and not [n for n in report.notes if "witness w cosigned" in n], report.text()
