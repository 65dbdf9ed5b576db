from __future__ import annotations

import pytest

from mlobs.audit.sqlite_store import SqliteStore, field
from mlobs.audit.store import Query


@pytest.fixture
def store(tmp_path):
    s = SqliteStore(tmp_path / "audit.db")
    yield s
    s.close()


@pytest.mark.parametrize("query, index", [
    (Query(subjects=["a" * 64]), "audit_records_by_subject"),
    (Query(decision_id="0190"), "audit_records_by_decision"),
    (Query(trace_id="ab" * 16), "audit_records_by_trace"),
    (Query(since="2026-01-01T00:00:00.000000Z", until="2026-01-02T00:00:00.000000Z"), "audit_records_by_ts"),
])
def test_lookups_by_indexed_header_fields_use_their_index(store, query, index):
    where, params = query.where("?", field)
    plan = " ".join(row[3] for row in store._reader().execute(f"EXPLAIN QUERY PLAN SELECT seq FROM audit_records{where}", params))
    assert f"USING INDEX {index}" in plan


def test_records_table_has_no_generated_columns_to_compute_on_insert(store):
    columns = [row[1] for row in store._reader().execute("PRAGMA table_xinfo(audit_records)")]
    assert columns == ["seq", "header", "payload", "hash"]
