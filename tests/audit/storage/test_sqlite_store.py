from __future__ import annotations

import pytest

from audit import attacker

from mlobs.audit.storage.row_checks import RowSource
from mlobs.audit.storage.sqlite_store import SqliteStore
from mlobs.audit.storage.store import Query


@pytest.fixture
def store(tmp_path):
    s = SqliteStore(tmp_path / "audit.db")
    yield s
    s.close()


def plan(store: SqliteStore, query: Query) -> str:
    sql, params = store.query_sql(query, "seq")
    return " ".join(row[3] for row in store._reader().execute(f"EXPLAIN QUERY PLAN {sql}", params))


@pytest.mark.parametrize("query, index", [
    (Query(decision_id="0190"), "USING INDEX audit_records_by_decision"),
    (Query(since="2026-01-01T00:00:00.000000Z", until="2026-01-02T00:00:00.000000Z"),
     "USING INDEX audit_records_by_ts"),
    (Query(subjects=["a" * 64]), "SEARCH lookup_by_subject USING PRIMARY KEY (bucket=? AND key=?)"),
    (Query(trace_id="ab" * 16), "SEARCH lookup_by_trace USING PRIMARY KEY (bucket=? AND key=?)"),
])
def test_lookups_by_indexed_header_fields_use_their_index(store, query, index):
    assert index in plan(store, query)


@pytest.mark.parametrize("query", [Query(subjects=["a" * 64]), Query(trace_id="ab" * 16)])
def test_random_key_lookups_read_only_the_log_records_after_the_lookups_mark(store, query):
    steps = plan(store, query)
    assert "SEARCH main.audit_records USING INTEGER PRIMARY KEY (rowid>?)" in steps
    assert "SCAN audit_records" not in steps and "SCAN main.audit_records" not in steps


def test_records_table_has_no_generated_columns_to_compute_on_insert(store):
    columns = [row[1] for row in store._reader().execute("PRAGMA table_xinfo(audit_records)")]
    assert columns == ["seq", "header", "payload", "hash"]


def test_records_table_has_no_random_key_index_for_commits_to_write(store):
    names = {row[0] for row in store._reader().execute("SELECT name FROM main.sqlite_master WHERE type = 'index'")}
    assert "audit_records_by_subject" not in names and "audit_records_by_trace" not in names


def test_verify_finds_the_erased_pseudonyms_through_the_erasure_index_without_a_scan(store):
    issued: list[str] = []
    reader = store._reader()

    def query(sql, params):
        issued.append(sql)
        return reader.execute(sql, params).fetchall()

    source = RowSource(query, sqlite=True)
    assert source.erased_pseudonyms() == set()
    steps = " ".join(row[3] for row in reader.execute(f"EXPLAIN QUERY PLAN {issued[-1]}"))
    assert steps == "SCAN audit_records USING INDEX audit_records_erasures"


def test_the_erasure_index_holds_erasure_records_only_so_a_decisions_insert_writes_nothing_to_it(store):
    (sql,) = store._reader().execute("SELECT sql FROM sqlite_master WHERE name = 'audit_records_erasures'").fetchone()
    assert sql.endswith("WHERE json_extract(header, '$[2]') = 'erasure'")


@pytest.mark.parametrize("change", [attacker.delete_directory, attacker.replace_with_a_copy],
                         ids=["deleted", "replaced"])
def test_a_log_deleted_or_replaced_under_a_running_writer_refuses_decisions_rather_than_lose_them(tmp_path, change):
    """SQLite keeps writing to a file unlinked while open: every decision acknowledged after that would
    be gone once the process ends."""
    from audit.factories import decision
    from mlobs.audit import AuditLog, AuditSettings
    from mlobs.audit.errors import AuditUnavailable

    (tmp_path / "log").mkdir()
    settings = AuditSettings(store_url=f"sqlite:///{tmp_path / 'log' / 'audit.db'}",
                             keys_dir=tmp_path / "keys").resolved(tmp_path)
    log = AuditLog.open(settings)
    try:
        log.append(decision(0))
        change(tmp_path / "log")

        with pytest.raises(AuditUnavailable, match="no longer the file this process opened"):
            log.append(decision(1))
    finally:
        log.close()
