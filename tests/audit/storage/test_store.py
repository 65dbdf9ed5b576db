from __future__ import annotations

import sqlite3

import pytest

from audit.factories import decision
from mlobs.audit import AuditLog, AuditSettings


def _execute(store_url: str, sql: str) -> None:
    if store_url.startswith("sqlite:///"):
        conn = sqlite3.connect(store_url.removeprefix("sqlite:///"), isolation_level=None)
        try:
            conn.execute(sql)
        finally:
            conn.close()
        return
    import psycopg

    with psycopg.connect(store_url, autocommit=True) as conn:
        conn.execute(sql)


@pytest.mark.parametrize("sql", [
    "UPDATE audit_records SET hash = 'x'",
    "DELETE FROM audit_records",
    "UPDATE audit_checkpoints SET hash = 'x'",
    "DELETE FROM audit_checkpoints",
])
def test_store_refuses_updates_and_deletes(log, store_url, sql):
    for i in range(10):
        log.append(decision(i))
    log.checkpoint()
    with pytest.raises(Exception, match="append-only"):
        _execute(store_url, sql)
    assert len(log.query()) == 10 and log.verify().ok


@pytest.mark.integration
def test_postgres_refuses_truncate(pg_url, tmp_path, clock):
    log = AuditLog.open(AuditSettings(store_url=pg_url).resolved(tmp_path), clock=clock)
    try:
        log.append(decision(1))
        for table in ("audit_records", "audit_checkpoints"):
            with pytest.raises(Exception, match="append-only"):
                _execute(pg_url, f"TRUNCATE {table}")
        assert log.verify().records == 1
    finally:
        log.close()


def test_two_logs_on_one_store_extend_one_chain(make_log):
    first, second = make_log(), make_log()
    for i in range(20):
        (first if i % 2 else second).append(decision(i))
    assert first.verify().ok and first.verify().records == 20
