"""Many rows per SQLite statement, for the writer's connections: within the variable limit."""

from __future__ import annotations

import sqlite3
from typing import Iterator, Sequence, TypeVar

T = TypeVar("T")
_MAX_ROWS = 1_000


def chunks(conn: sqlite3.Connection, rows: Sequence[T], width: int) -> Iterator[Sequence[T]]:
    """`rows` in slices of at most 1,000 whose `width` parameters each fit one statement."""
    per = max(1, min(_MAX_ROWS, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width))
    for lo in range(0, len(rows), per):
        yield rows[lo : lo + per]


def insert_rows(conn: sqlite3.Connection, insert: str, rows: list[tuple]) -> None:
    """`insert` is "INSERT ... VALUES"; the placeholders are added here. Each call into SQLite
    gives up the GIL and must wait to take it back while another thread runs Python, so a batch
    is a few statements rather than one step per row (executemany)."""
    if not rows:
        return
    width = len(rows[0])
    for chunk in chunks(conn, rows, width):
        marks = ", ".join(["(" + ", ".join("?" * width) + ")"] * len(chunk))
        conn.execute(f"{insert} {marks}", [value for row in chunk for value in row])
