from __future__ import annotations

import sqlite3

from mlobs.audit.sqlite_rows import insert_rows


def _table(variable_limit: int) -> tuple[sqlite3.Connection, list[str]]:
    conn = sqlite3.connect(":memory:")
    conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, variable_limit)
    conn.execute("CREATE TABLE t (a INTEGER, b TEXT, c BLOB)")
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    return conn, statements


def test_rows_go_in_as_few_statements_as_sqlites_variable_limit_allows():
    conn, statements = _table(variable_limit=7)  # two rows of three values a statement
    rows = [(i, f"r{i}", bytes([i])) for i in range(5)]
    insert_rows(conn, "INSERT INTO t (a, b, c) VALUES", rows)
    assert conn.execute("SELECT a, b, c FROM t ORDER BY rowid").fetchall() == rows
    assert len([s for s in statements if s.startswith("INSERT")]) == 3


def test_no_rows_is_no_statement():
    conn, statements = _table(variable_limit=999)
    insert_rows(conn, "INSERT INTO t (a, b, c) VALUES", [])
    assert statements == []
