"""The raw store as an insider attacks it: rows swapped, deleted, kept past their expiry."""

from __future__ import annotations

import sqlite3
import time

import pytest

from audit import attacker
from audit.factories import decision
from mlobs.audit import AuditLog
from mlobs.audit.errors import RawRefused


@pytest.fixture
def three(log):
    """Three decisions with raw payloads, two subjects."""
    receipts = [log.append(decision(i, subject="alice" if i < 2 else "bob", raw={"body": f"r{i}"})) for i in range(3)]
    return log, receipts


def _accesses(log) -> list[dict]:
    return [r["output"] for r in log.query(event_type="raw_access")]


def test_a_raw_row_has_nothing_an_attacker_could_edit_to_keep_it_longer(three, backend, audit_settings):
    if backend != "sqlite":
        pytest.skip("the column list is read from SQLite")
    conn = sqlite3.connect(audit_settings.store_url.removeprefix("sqlite:///"))
    columns = [row[1] for row in conn.execute("PRAGMA table_info(audit_raw_rows)")]
    conn.close()
    assert columns == ["seq", "payload"]  # its hash, subject and expiry live in the chained record


def test_swapped_raw_rows_are_refused_recorded_and_named_by_verify(three, store_url):
    log, receipts = three
    first, second = log.store.raw_get(1), log.store.raw_get(2)
    attacker.run(store_url, [("UPDATE audit_raw_rows SET payload = ? WHERE seq = 1", (second,)),
                             ("UPDATE audit_raw_rows SET payload = ? WHERE seq = 2", (first,))])
    with pytest.raises(RawRefused, match="does not match the hash in its record"):
        log.read_raw(receipts[0].decision_id, reason="ticket 4", actor="dev")
    assert _accesses(log) == [{"found": False, "why": "does not match the hash in its record (swapped or altered)"}]
    report = log.verify()
    assert not report.ok and report.problem.seq == 1 and "swapped" in report.problem.what


def test_a_deleted_raw_row_is_refused_recorded_and_named_by_verify(three, store_url):
    log, receipts = three
    attacker.run(store_url, [("DELETE FROM audit_raw_rows WHERE seq = 2", ())])
    with pytest.raises(RawRefused, match="missing"):
        log.read_raw(receipts[1].decision_id, reason="ticket 5", actor="dev")
    assert _accesses(log)[0]["found"] is False
    report = log.verify()
    assert not report.ok and report.problem.seq == 2 and "missing" in report.problem.what


def test_an_inserted_raw_row_is_named_by_verify(three, store_url):
    log, _ = three
    attacker.run(store_url, [("INSERT INTO audit_raw_rows (seq, payload) VALUES (?, ?)", (4, b'{"body":"planted"}'))])
    assert log.append(decision(9, subject="carol")).seq == 4  # a decision without a raw payload
    report = log.verify()
    assert not report.ok and report.problem.seq == 4 and "inserted" in report.problem.what


def test_a_row_kept_past_its_expiry_is_not_served_and_verify_names_it(three, store_url, clock):
    log, receipts = three
    kept = log.store.raw_get(1)
    clock.advance(days=7, seconds=1)
    assert log.purge() == 3
    attacker.run(store_url, [("INSERT INTO audit_raw_rows (seq, payload) VALUES (?, ?)", (1, kept))])  # restored
    assert log.read_raw(receipts[0].decision_id, reason="r", actor="a") is None
    assert _accesses(log)[-1] == {"found": False, "why": "expired"}
    assert log.verify().ok  # within a day of its expiry: a purge may still be on its way
    clock.advance(days=1, seconds=1)
    report = log.verify()
    assert not report.ok and report.problem.seq == 1 and "kept past its expiry" in report.problem.what


def test_a_purge_is_recorded_and_leaves_a_log_that_verifies(three, clock):
    log, receipts = three
    clock.advance(days=3)
    late = log.append(decision(7, subject="bob", raw={"body": "late"}))
    clock.advance(days=4, seconds=1)
    assert log.purge() == 3
    purge = log.query(event_type="raw_purge")
    assert len(purge) == 1 and purge[0]["output"] == {"purged": 3}
    assert purge[0]["details"]["first_seq"] == 1 and purge[0]["details"]["last_seq"] == 3
    assert log.store.raw_get(late.seq) is not None
    assert log.purge() == 0 and len(log.query(event_type="raw_purge")) == 1  # nothing expired: nothing recorded
    assert log.verify().ok


def test_two_purges_of_one_log_at_once_record_each_raw_payload_once(make_log, clock):
    """The service's own purge and an operator's `mlobs audit purge` meeting on one log: the second,
    coming between the first's look and its commit, would record a purge of rows already gone."""
    service, operator = make_log(), make_log()
    for i in range(3):
        service.append(decision(i, raw={"body": f"r{i}"}))
    clock.advance(days=8)
    looked = service.store.raw_expired
    meanwhile = []

    def look_then_meet_the_other(before, limit):
        seqs = looked(before, limit)
        if not meanwhile:
            meanwhile.append(operator.purge())
        return seqs

    service.store.raw_expired = look_then_meet_the_other
    purged = service.purge()
    assert meanwhile == [None] and purged == 3
    assert [p["output"] for p in operator.query(event_type="raw_purge")] == [{"purged": 3}]
    assert operator.purge() == 0
    assert service.verify().ok


def test_a_service_purges_on_a_schedule(make_log, clock):
    log = make_log(raw_purge_interval_s=0.05)
    receipt = log.append(decision(1, raw={"body": "x"}))
    clock.advance(days=8)
    log.start_purging()
    deadline = time.monotonic() + 10
    while not log.query(event_type="raw_purge") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert log.query(event_type="raw_purge")[0]["output"] == {"purged": 1}
    assert log.store.raw_get(receipt.seq) is None


def test_a_raw_row_that_does_not_decrypt_is_refused_as_a_bad_tag(three, audit_settings):
    log, receipts = three
    pseudonym = log.query(decision_id=receipts[2].decision_id)[0]["subject"]
    conn = sqlite3.connect(audit_settings.subject_keys_path)
    for table in ("subject_keys",):
        conn.execute(f"INSERT OR REPLACE INTO {table} (pseudonym, key) VALUES (?, ?)", (pseudonym, b"\1" * 32))
    conn.commit()
    conn.close()
    appended = sqlite3.connect(str(audit_settings.subject_keys_path).replace(".db", "-appended.db"))
    appended.execute("UPDATE new_subject_keys SET key = ? WHERE pseudonym = ?", (b"\1" * 32, pseudonym))
    appended.execute("UPDATE key_store_state SET erasures = erasures + 1")  # every process drops what it holds
    appended.commit()
    appended.close()
    with pytest.raises(RawRefused, match="bad tag"):
        log.read_raw(receipts[2].decision_id, reason="r", actor="a")
    assert _accesses(log)[-1]["why"].endswith("(bad tag)")


def test_an_erased_subjects_raw_rows_are_gone_and_the_log_still_verifies(three):
    log, receipts = three
    log.forget("alice", actor="dpo")
    assert log.store.raw_get(1) is None and log.store.raw_get(2) is None and log.store.raw_get(3) is not None
    assert log.read_raw(receipts[0].decision_id, reason="r", actor="a") is None
    assert log.verify().ok


def test_the_earlier_raw_table_is_dropped_with_its_editable_expiry(tmp_path, clock):
    path = tmp_path / "audit.db"
    conn = sqlite3.connect(path)  # a log of the earlier layout, with no record yet
    conn.execute("CREATE TABLE audit_records (seq INTEGER PRIMARY KEY, header TEXT NOT NULL, payload BLOB NOT NULL, "
                 "hash TEXT NOT NULL)")
    conn.execute("CREATE TABLE audit_raw (decision_id TEXT PRIMARY KEY, subject TEXT, expires_at TEXT NOT NULL, "
                 "encrypted INTEGER NOT NULL, payload BLOB NOT NULL)")
    conn.execute("INSERT INTO audit_raw VALUES ('d', NULL, '2099-01-01T00:00:00.000000Z', 0, x'7b7d')")
    conn.commit()
    conn.close()
    from mlobs.audit import AuditSettings

    with AuditLog.open(AuditSettings(store_url=f"sqlite:///{path}"), base_dir=tmp_path, clock=clock):
        pass
    conn = sqlite3.connect(path)
    tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    conn.close()
    assert "audit_raw" not in tables and "audit_raw_rows" in tables


def test_the_raw_command_refuses_a_deleted_row_cleanly(three, store_url, audit_settings, monkeypatch, capsys):
    import argparse

    from mlobs.audit.cli import register

    log, receipts = three
    log.close()
    attacker.run(store_url, [("DELETE FROM audit_raw_rows WHERE seq = 1", ())])
    monkeypatch.setenv("MLOBS_AUDIT__STORE_URL", store_url)
    monkeypatch.setenv("MLOBS_AUDIT__KEYS_DIR", str(audit_settings.keys_dir))
    monkeypatch.setenv("MLOBS_AUDIT__RAW_RETENTION_DAYS", "36500")  # the test clock's records are old by now
    parser = argparse.ArgumentParser(prog="mlobs")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["audit", "raw", "--decision-id", receipts[0].decision_id, "--reason", "ticket 7"])
    assert args.func(args) == 2
    assert "refused: missing from the raw store" in capsys.readouterr().err


def _auditor_verifies(store_url, audit_settings, now, retention_days: float):
    from mlobs.audit.keys.signing import load_public_key
    from mlobs.audit.verification.trust_verify import verify_log

    public = load_public_key(audit_settings.keys_dir / "checkpoint_signing.pub.pem")
    return verify_log(store_url, public, raw_retention_days=retention_days, now=now)


def test_rows_a_recorded_purge_deleted_under_a_shorter_retention_pass_an_auditor_who_keeps_longer(
        make_log, store_url, audit_settings, clock):
    log = make_log(raw_retention_days=3)
    for i in range(3):
        log.append(decision(i, raw={"body": f"r{i}"}))
    clock.advance(days=3, seconds=1)
    kept = log.append(decision(9, raw={"body": "newer"}))
    assert log.purge() == 3
    log.checkpoint()
    now = clock.now
    log.close()
    # The auditor's own setting is 7 days: the three rows purged at 3 are inside it, and the purge is recorded.
    assert _auditor_verifies(store_url, audit_settings, now, 7.0).ok
    # A row no purge covers is still named when deleted.
    attacker.run(store_url, [("DELETE FROM audit_raw_rows WHERE seq = ?", (kept.seq,))])
    report = _auditor_verifies(store_url, audit_settings, now, 7.0)
    assert not report.ok and report.problem.seq == kept.seq and "missing" in report.problem.what


def test_a_backlog_of_expired_raw_payloads_is_purged_in_bounded_commits_and_the_log_still_verifies(
        log, clock, monkeypatch):
    """One delete of a whole backlog (purges off or failing for days) would hold every decision up behind it."""
    from mlobs.audit.storage import raw_store

    monkeypatch.setattr(raw_store, "PURGE_CHUNK", 100)
    pending = [log.submit(decision(i, subject=f"s{i % 7}", raw={"body": f"r{i}"})) for i in range(250)]
    for p in pending:
        p.result(30)
    clock.advance(days=8)

    assert log.purge() == 250

    purges = log.query(event_type="raw_purge")
    assert [p["output"]["purged"] for p in purges] == [100, 100, 50]
    assert [(p["details"]["first_seq"], p["details"]["last_seq"]) for p in purges] == [(1, 100), (101, 200),
                                                                                       (201, 250)]
    assert log.store.raw_oldest_ts() is None
    assert log.verify().ok
    assert log.purge() == 0


def test_a_purge_told_to_stop_ends_after_the_chunk_it_is_in_and_the_log_still_verifies(log, clock, monkeypatch):
    """A service closing in the middle of a long backlog's purge is not held up by the rest of it."""
    import threading

    from mlobs.audit.storage import raw_store

    monkeypatch.setattr(raw_store, "PURGE_CHUNK", 10)
    for p in [log.submit(decision(i, raw={"body": f"r{i}"})) for i in range(50)]:
        p.result(30)
    clock.advance(days=8)
    stop, recorded = threading.Event(), log.record_purge

    def record_then_stop(*args):
        stop.set()
        return recorded(*args)

    monkeypatch.setattr(log, "record_purge", record_then_stop)
    assert raw_store.purge(log, stop) == 10
    assert [p["output"] for p in log.query(event_type="raw_purge")] == [{"purged": 10}]
    assert log.verify().ok


def test_verify_checks_the_raw_store_a_chunk_of_records_at_a_time_whatever_the_window_holds(
        log, clock, monkeypatch):
    """Every decision of the retention window holds a raw payload: at a million a week, holding all their
    records at once took verify's memory past 700 MiB."""
    import tracemalloc

    from mlobs.audit.storage import raw_store, row_checks

    pending = [log.submit(decision(i, subject=f"s{i % 7}", raw={"body": f"r{i}"})) for i in range(3000)]
    for p in pending:
        p.result(30)
    source = log.store.row_source()
    _, marked = source.sweep("2000-01-01T00:00:00.000000Z")
    monkeypatch.setattr(raw_store, "_CHUNK", 100)
    monkeypatch.setattr(row_checks, "_PAGE", 100)  # raw rows read at a time

    tracemalloc.start()
    try:
        assert raw_store.check(source, clock(), 7, marked) is None
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert len(marked) == 3000
    assert peak < 300_000, f"{peak} bytes held checking 3,000 raw payloads 100 at a time"
    assert row_checks.check(source, clock(), 7) is None


@pytest.mark.integration
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_a_purge_on_a_host_whose_clock_is_a_year_ahead_of_the_database_server_deletes_nothing_early(
        make_log, clock):
    from datetime import datetime, timezone

    clock.now = datetime.now(timezone.utc)
    log = make_log(raw_purge_interval_s=0)
    kept = log.append(decision(1, raw={"body": "evidence"}))
    clock.advance(days=365)  # a host booted with a wrong RTC runs `mlobs audit purge` before NTP corrects it
    assert log.purge() == 0
    assert log.store.raw_get(kept.seq) is not None
    assert not log.query(event_type="raw_purge")
