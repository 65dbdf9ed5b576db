"""The subject and trace lookup beside a SQLite log, edited by someone with file access."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from audit.factories import decision
from mlobs.audit.storage.sqlite_lookup import lookup_path
from mlobs.audit.verification.trust_verify import verify_log


@pytest.fixture
def closed_log(make_log, backend, audit_settings):
    if backend != "sqlite":
        pytest.skip("the lookup is the SQLite log's side database")
    log = make_log()
    for i in range(30):
        log.append(decision(i, subject="alice" if i in (4, 17) else f"subject-{i}"))  # seqs 5 and 18
    log.close()
    path = lookup_path(Path(audit_settings.store_url.removeprefix("sqlite:///")))
    return log, path, audit_settings


@pytest.mark.parametrize("table", ["lookup_by_subject", "lookup_by_trace"])
def test_a_record_removed_from_the_lookup_to_hide_it_from_an_access_request_fails_verify(closed_log, table):
    log, path, settings = closed_log
    with sqlite3.connect(path) as conn:
        conn.execute(f"DELETE FROM {table} WHERE seq = 18")
    reopened = log.__class__.open(settings, read_only=True)
    try:
        assert len(reopened.query(subject="alice")) == (1 if table == "lookup_by_subject" else 2)  # the hiding works
    finally:
        reopened.close()
    report = verify_log(settings.store_url, log.signer.public)
    field = "subject" if table == "lookup_by_subject" else "trace_id"
    assert not report.ok and report.problem.seq == 18 and f"under its {field}" in report.problem.what, report.text()


@pytest.mark.parametrize("damage", ["deleted", "not a database", "made for another history"])
def test_a_lookup_that_the_next_open_rebuilds_is_no_verify_failure(closed_log, damage):
    log, path, settings = closed_log
    if damage == "deleted":
        path.unlink()
    elif damage == "not a database":
        path.write_bytes(b"junk" * 1000)
    else:
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE lookup_position SET hash = 'ab'")
            conn.execute("DELETE FROM lookup_by_subject WHERE seq = 18")
    assert verify_log(settings.store_url, log.signer.public).ok
