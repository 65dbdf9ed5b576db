"""The type and raw-store checks as an auditor runs them: `verify_log` with the verifier's own key,
read-only, names what `AuditLog.verify()` names, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from audit import attacker
from audit.factories import decision
from mlobs.audit.verification.trust_verify import verify_log


@pytest.fixture
def signed(log):
    """Three decisions with raw payloads, two subjects, covered by a signed checkpoint."""
    for i in range(3):
        log.append(decision(i, subject="alice" if i < 2 else "bob", raw={"body": f"r{i}"}))
    log.checkpoint()
    return log


def both(log, store_url, now):
    """The library's report and the trusted read-only verifier's report on the same store."""
    return log.verify(), verify_log(store_url, log.signer.public, now=now)


def test_an_untouched_log_passes_both_verifiers(signed, store_url, clock):
    mine, theirs = both(signed, store_url, clock.now)
    assert mine.ok and theirs.ok, (mine.text(), theirs.text())


@pytest.mark.parametrize("attack, seq, what", [
    ([("UPDATE audit_raw_rows SET payload = (SELECT payload FROM audit_raw_rows WHERE seq = 3) WHERE seq = 2", ())],
     2, "swapped or altered"),
    ([("DELETE FROM audit_raw_rows WHERE seq = 2", ())], 2, "missing"),
    ([("INSERT INTO audit_raw_rows (seq, payload) VALUES (4, ?)", (b'{"body":"planted"}',))], 4, "inserted"),
], ids=["swapped", "deleted", "planted"])
def test_a_raw_store_attack_is_named_by_both_verifiers(signed, store_url, clock, attack, seq, what):
    attacker.run(store_url, attack)
    for report in both(signed, store_url, clock.now):
        assert not report.ok and report.problem.seq == seq and what in report.problem.what, report.text()


def test_a_raw_row_kept_past_its_expiry_is_named_by_the_trusted_verifier(signed, store_url, clock):
    clock.advance(days=8, seconds=1)  # no purge ran: every row is a day past its expiry
    report = verify_log(store_url, signed.signer.public, now=clock.now)
    assert not report.ok and report.problem.seq == 1 and "kept past its expiry" in report.problem.what


def test_a_payload_made_text_is_named_by_both_verifiers(signed, store_url, backend, clock):
    if backend != "sqlite":
        pytest.skip("PostgreSQL's BYTEA column cannot hold TEXT")
    attacker.run(store_url, [("UPDATE audit_records SET payload = CAST(payload AS TEXT) WHERE seq = 2", ())])
    for report in both(signed, store_url, clock.now):
        assert not report.ok and report.problem.seq == 2 and "TEXT where" in report.problem.what, report.text()


def test_the_trusted_verifier_writes_nothing_to_the_store(signed, store_url, backend, clock):
    if backend != "sqlite":
        pytest.skip("the file's bytes are compared on SQLite")
    from pathlib import Path

    path = Path(store_url.removeprefix("sqlite:///"))
    signed.close()
    before = path.read_bytes()
    assert verify_log(store_url, signed.signer.public, now=clock.now).ok
    assert path.read_bytes() == before and not Path(f"{path}-journal").exists()


def test_a_header_that_is_not_json_is_named_and_crashes_no_check(signed, store_url, backend, clock):
    if backend != "sqlite":
        pytest.skip("PostgreSQL's generated columns refuse a header that is not JSON")
    import sqlite3

    signed.close()
    conn = sqlite3.connect(store_url.removeprefix("sqlite:///"), isolation_level=None)
    for name, kind in conn.execute("SELECT name, type FROM sqlite_master WHERE type IN ('trigger', 'index') "
                                   "AND sql IS NOT NULL").fetchall():
        conn.execute(f"DROP {kind.upper()} {name}")  # the expression indexes would refuse the edit
    conn.execute("UPDATE audit_records SET header = 'not json' WHERE seq = 2")
    conn.close()
    report = verify_log(store_url, signed.signer.public, now=clock.now)
    assert not report.ok and report.problem.seq == 2, report.text()
    assert any("not checked" in note for note in report.notes)


def _time_notes(report) -> list[str]:
    return [n for n in report.notes if "record times" in n or "after this verifier's clock" in n]


def test_a_wall_clock_stepped_back_an_hour_is_noted_at_its_seq_and_the_log_still_passes(log, store_url, clock):
    log.append(decision(1))
    log.append(decision(2))
    clock.advance(hours=-1)  # an NTP correction: the decisions after it are stamped an hour earlier
    stepped = log.append(decision(3))
    log.append(decision(4))
    log.checkpoint()
    clock.advance(days=1)  # the auditor, a day later
    for report in both(log, store_url, clock.now):
        assert report.ok, report.text()
        notes = _time_notes(report)
        assert len(notes) == 1 and f"1 time(s), first at seq {stepped.seq} " in notes[0], report.text()


def test_records_stamped_a_year_ahead_by_a_clock_set_forward_and_back_are_noted(log, store_url, clock):
    log.append(decision(1))
    clock.advance(days=365)
    ahead = log.append(decision(2))
    log.append(decision(3))
    clock.advance(days=-365)
    log.append(decision(4))
    log.checkpoint()
    for report in both(log, store_url, clock.now):
        assert report.ok, report.text()
        notes = " ".join(_time_notes(report))
        assert f"2 record(s) are stamped more than a minute after this verifier's clock, first at seq {ahead.seq}" \
            in notes, report.text()
        assert "go back by more than a minute 1 time(s)" in notes


def test_record_times_a_few_seconds_out_of_seq_order_are_not_a_step(log, store_url, clock):
    """A record's time is taken before it queues: seq order trails time order by a queue's worth."""
    log.append(decision(1))
    clock.advance(seconds=-5)
    log.append(decision(2))
    log.checkpoint()
    for report in both(log, store_url, clock.now):
        assert report.ok and not _time_notes(report), report.text()


def test_a_deleted_raw_row_of_a_record_stamped_ahead_by_a_stepped_clock_is_named(log, store_url, clock, monkeypatch):
    """Such a record lies in the retention window by its time but far before the window's first seq by time
    order; more than a queue's worth of records between them is what a margin of 0 stands for here."""
    from mlobs.audit.storage import row_checks

    monkeypatch.setattr(row_checks, "SWEEP_MARGIN", 0, raising=False)
    log.append(decision(1))
    clock.advance(days=365)
    ahead = log.append(decision(2, raw={"body": "ahead"}))
    clock.advance(days=30 - 365)
    for i in range(3, 6):
        log.append(decision(i, raw={"body": f"r{i}"}))
    log.checkpoint()
    attacker.run(store_url, [("DELETE FROM audit_raw_rows WHERE seq = ?", (ahead.seq,))])
    for report in both(log, store_url, clock.now):
        assert not report.ok and report.problem.seq == ahead.seq, report.text()
        assert "missing" in report.problem.what
