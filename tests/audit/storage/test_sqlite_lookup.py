from __future__ import annotations

import logging
import shutil
import sqlite3
import time

import pytest

from mlobs.audit import AuditLog, AuditSettings
from mlobs.audit.storage import sqlite_lookup
from mlobs.audit.storage.sqlite_lookup import lookup_path
from mlobs.audit.storage.sqlite_store import SqliteStore
from audit.factories import decision

NEVER = 3600.0  # a lookup delay no test waits out: records stay after the mark until caught up


@pytest.fixture
def open_log(tmp_path, clock):
    opened: list[AuditLog] = []

    def open_(name: str = "audit.db", delay: float = NEVER, most_behind: int = 1_000_000) -> AuditLog:
        store = SqliteStore(tmp_path / name, lookup_delay_s=delay, lookup_most_behind=most_behind)
        settings = AuditSettings(store_url=f"sqlite:///{tmp_path / name}").resolved(tmp_path)
        opened.append(AuditLog.open(settings, clock=clock, store=store))
        return opened[-1]

    yield open_
    for log in opened:
        log.close()


def mark(log: AuditLog) -> int:
    return log.store._reader().execute("SELECT seq FROM lookup.lookup_position").fetchone()[0]


def indexed(log: AuditLog, table: str) -> int:
    return log.store._reader().execute(f"SELECT count(*) FROM lookup.{table}").fetchone()[0]


def test_queries_find_records_the_lookup_has_not_indexed_yet(open_log):
    log = open_log()
    receipt = log.append(decision(1, subject="alice"))
    assert mark(log) == 0
    assert [r["decision_id"] for r in log.query(subject="alice")] == [receipt.decision_id]
    assert [r["decision_id"] for r in log.query(trace_id="trace-1")] == [receipt.decision_id]


def test_catching_up_indexes_every_committed_record_and_moves_the_mark_to_the_head(open_log):
    log = open_log()
    receipts = [log.append(decision(i, subject=f"s{i % 3}")) for i in range(7)]
    assert log.store.lookup.catch_up() == 7
    assert mark(log) == receipts[-1].seq
    assert indexed(log, "lookup_by_subject") == 7 and indexed(log, "lookup_by_trace") == 7
    assert len(log.query(subject="s1")) == 2 and log.query(trace_id="trace-6")[0]["seq"] == receipts[-1].seq


def test_records_without_a_subject_or_trace_id_take_no_place_in_the_lookup(open_log):
    log = open_log()
    log.append(decision(1, subject=None, trace_id=None))
    log.store.lookup.catch_up()
    assert indexed(log, "lookup_by_subject") == 0 and indexed(log, "lookup_by_trace") == 0


def test_the_lookup_catches_up_by_itself_soon_after_a_commit(open_log):
    log = open_log(delay=0.01)
    head = log.append(decision(1)).seq
    deadline = time.monotonic() + 10
    while mark(log) != head and time.monotonic() < deadline:
        time.sleep(0.01)
    assert mark(log) == head


def test_the_lookup_catches_up_at_once_when_enough_records_wait_however_long_its_delay(open_log):
    log = open_log(most_behind=3)
    first = [log.append(decision(i)).seq for i in range(2)]
    time.sleep(0.2)
    assert mark(log) == 0  # two records wait: fewer than enough
    head = log.append(decision(2)).seq
    deadline = time.monotonic() + 10
    while mark(log) != head and time.monotonic() < deadline:
        time.sleep(0.01)
    assert mark(log) == head > first[-1]


def test_closing_the_log_leaves_the_lookup_caught_up(open_log, tmp_path):
    log = open_log()
    head = log.append(decision(1)).seq
    log.close()
    with sqlite3.connect(lookup_path(tmp_path / "audit.db")) as conn:
        assert conn.execute("SELECT seq FROM lookup_position").fetchone() == (head,)


def test_a_deleted_lookup_is_rebuilt_when_the_log_is_opened(open_log, tmp_path):
    log = open_log()
    log.append(decision(1, subject="alice"))
    log.close()
    lookup_path(tmp_path / "audit.db").unlink()
    log = open_log()
    assert mark(log) == 1 and len(log.query(subject="alice")) == 1


def test_opening_a_log_far_ahead_of_its_lookup_says_it_is_indexing_and_a_caught_up_one_says_nothing(
    open_log, tmp_path, monkeypatch, caplog
):
    monkeypatch.setattr(sqlite_lookup, "SAY_FROM", 3)
    log = open_log()
    for i in range(3):
        log.append(decision(i, subject="alice"))
    log.close()
    with caplog.at_level(logging.WARNING, logger="mlobs.audit.storage.sqlite_lookup"):
        open_log().close()
        assert caplog.messages == []
        lookup_path(tmp_path / "audit.db").unlink()
        log = open_log()
    assert caplog.messages == ["audit: indexing 3 records by subject and trace id before the log opens"]
    assert mark(log) == 3


def test_a_lookup_made_for_another_history_of_the_log_is_rebuilt(open_log, tmp_path):
    mine, other = open_log("mine.db"), open_log("other.db")
    mine.append(decision(1, subject="alice"))
    other.append(decision(1, subject="bob"))
    mine.close()
    other.close()
    shutil.copy(lookup_path(tmp_path / "other.db"), lookup_path(tmp_path / "mine.db"))
    log = open_log("mine.db")
    assert indexed(log, "lookup_by_subject") == 1
    assert len(log.query(subject="alice")) == 1 and log.query(subject="bob") == []


def test_a_log_that_indexed_subjects_and_trace_ids_in_its_commits_drops_those_indexes(open_log, tmp_path):
    log = open_log()
    log.append(decision(1, subject="alice"))
    log.close()
    with sqlite3.connect(tmp_path / "audit.db") as conn:
        conn.execute("CREATE INDEX audit_records_by_subject ON audit_records (json_extract(header, '$[10]'))")
        conn.execute("CREATE INDEX audit_records_by_trace ON audit_records (json_extract(header, '$[8]'))")
    log = open_log()
    names = {r[0] for r in log.store._reader().execute("SELECT name FROM main.sqlite_master WHERE type = 'index'")}
    assert not names & {"audit_records_by_subject", "audit_records_by_trace"}
    assert len(log.query(subject="alice")) == 1


@pytest.mark.parametrize("caught_up", [True, False], ids=["indexed", "after the mark"])
def test_forget_deletes_raw_payloads_whether_or_not_their_records_are_indexed(open_log, caught_up):
    log = open_log()
    old = log.append(decision(1, subject="alice", raw={"body": "a"}))
    if caught_up:
        log.store.lookup.catch_up()
    new = log.append(decision(2, subject="alice", raw={"body": "b"}))
    log.forget("alice", actor="dpo")
    assert log.store.raw_get(old.seq) is None and log.store.raw_get(new.seq) is None


def test_a_damaged_lookup_is_replaced_and_rebuilt_when_the_log_is_opened(open_log, tmp_path):
    log = open_log()
    log.append(decision(1, subject="alice"))
    log.close()
    lookup_path(tmp_path / "audit.db").write_bytes(b"not a database" * 500)
    log = open_log()
    assert mark(log) == 1 and len(log.query(subject="alice")) == 1


def test_records_spread_over_many_buckets_are_all_found(open_log, monkeypatch):
    monkeypatch.setattr(sqlite_lookup, "BUCKET_BITS", 1)  # two records a bucket
    log = open_log()
    receipts = [log.append(decision(i, subject=f"s{i % 2}")) for i in range(9)]
    log.store.lookup.catch_up()
    buckets = log.store._reader().execute("SELECT count(DISTINCT bucket) FROM lookup.lookup_by_subject").fetchone()[0]
    assert buckets == 5
    assert [r["seq"] for r in log.query(subject="s0")] == [r.seq for r in receipts[::2]]
    assert log.query(trace_id="trace-8")[0]["seq"] == receipts[-1].seq


def test_values_that_share_the_indexed_prefix_are_told_apart(open_log):
    log = open_log()
    first = log.append(decision(1, trace_id="0123456789ab-first"))
    log.append(decision(2, trace_id="0123456789ab-second"))
    log.store.lookup.catch_up()
    assert [r["seq"] for r in log.query(trace_id="0123456789ab-first")] == [first.seq]


def test_a_lookup_in_an_earlier_layout_is_dropped_and_rebuilt_when_the_log_is_opened(open_log, tmp_path):
    log = open_log()
    head = log.append(decision(1, subject="alice"))
    log.close()
    path = lookup_path(tmp_path / "audit.db")
    path.unlink()
    with sqlite3.connect(path) as conn:  # alice indexed, in tables this version no longer reads
        for table in ("lookup_subject", "lookup_trace"):
            conn.execute(f"CREATE TABLE {table} (key TEXT NOT NULL, seq INTEGER NOT NULL, "
                         "PRIMARY KEY (key, seq)) WITHOUT ROWID")
        conn.execute("CREATE TABLE lookup_mark (id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, hash TEXT NOT NULL)")
        conn.execute("INSERT INTO lookup_mark VALUES (1, ?, ?)", (head.seq, head.hash))
    log = open_log()
    tables = {r[0] for r in log.store._reader().execute("SELECT name FROM lookup.sqlite_master WHERE type = 'table'")}
    assert tables == {"lookup_by_subject", "lookup_by_trace", "lookup_position"}
    assert mark(log) == 1 and len(log.query(subject="alice")) == 1
