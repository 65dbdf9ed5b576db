"""Many rows per INSERT statement, for the writer's SQLite connections."""

from __future__ import annotations

import sqlite3

_MAX_ROWS = 1_000


def insert_rows(conn: sqlite3.Connection, insert: str, rows: list[tuple]) -> None:
    """`insert` is "INSERT ... VALUES"; the placeholders are added here. Each call into SQLite
    gives up the GIL and must wait to take it back while another thread runs Python, so a batch
    is a few statements rather than one step per row (executemany)."""
    if not rows:
        return
    width = len(rows[0])
    per = max(1, min(_MAX_ROWS, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width))
    for lo in range(0, len(rows), per):
        chunk = rows[lo : lo + per]
        marks = ", ".join(["(" + ", ".join("?" * width) + ")"] * len(chunk))
        conn.execute(f"{insert} {marks}", [value for row in chunk for value in row])
