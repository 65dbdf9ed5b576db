"""Stored rows checked for their canonical types, and decoded without ever crashing a reader.

A record is (seq INTEGER, header TEXT, payload BLOB, hash TEXT). SQLite keeps whatever type a
value was written with, so a payload rewritten as TEXT with the same bytes hashes the same;
but it is not the record that was committed, and readers that expect bytes would fail on it.
Verification names such a row by its seq; `query` and `export` report it and go on.
"""

from __future__ import annotations

from typing import Any, Iterable

import orjson

from mlobs.audit.errors import AuditError
from mlobs.audit.record import HEADER_COLUMNS
from mlobs.audit.verify import Problem, VerifyReport

_BYTES = (bytes, bytearray, memoryview)
_EXPECTED = {"header": "text", "payload": "blob", "hash": "text"}


class BadRow(AuditError, ValueError):
    """A stored row that is not a well-formed record."""

    def __init__(self, seq: Any, what: str) -> None:
        super().__init__(f"record seq {seq}: {what}")
        self.problem = Problem(seq if isinstance(seq, int) else None, None, what)


def mistyped_problem(row: tuple | None) -> Problem | None:
    """A Problem naming a record whose columns are not of their canonical types: row is
    (seq, header type, payload type, hash type) as SQLite's typeof() gives them, or None."""
    if row is None:
        return None
    seq, *types = row
    wrong = [f"{name} stored as {kind.upper()} where {_EXPECTED[name].upper()} is expected"
             for name, kind in zip(_EXPECTED, types) if kind != _EXPECTED[name]]
    return Problem(seq, None, "; ".join(wrong) + " (record rewritten)")


def decode_row(row: tuple | list) -> dict[str, Any]:
    """A stored row (seq, header, payload, hash) as a dict, or BadRow saying what is wrong with it."""
    seq, header, payload, hash_ = row
    if not isinstance(header, str):
        raise BadRow(seq, f"header stored as {type(header).__name__} where TEXT is expected")
    if not isinstance(payload, _BYTES):
        raise BadRow(seq, f"payload stored as {'TEXT' if isinstance(payload, str) else type(payload).__name__} "
                          "where a BLOB is expected")
    if not isinstance(hash_, str):
        raise BadRow(seq, f"hash stored as {type(hash_).__name__} where TEXT is expected")
    try:
        fields = orjson.loads(header)
        body = orjson.loads(bytes(payload))
    except orjson.JSONDecodeError as exc:
        raise BadRow(seq, f"not valid JSON ({exc})") from None
    if not isinstance(fields, list) or len(fields) != len(HEADER_COLUMNS) or not isinstance(body, dict):
        raise BadRow(seq, "not a record (header or payload of the wrong shape)")
    out = dict(zip(HEADER_COLUMNS, fields))
    out["hash"] = hash_
    out.update(body)
    return out


def decode_rows(rows: Iterable[tuple]) -> tuple[list[dict], list[Problem]]:
    """Every well-formed row decoded, and a Problem for each row that is not."""
    records, problems = [], []
    for row in rows:
        try:
            records.append(decode_row(row))
        except BadRow as bad:
            problems.append(bad.problem)
    return records, problems


def fold(report: VerifyReport, problem: Problem | None) -> VerifyReport:
    """A report failed by `problem` too, naming whichever bad seq comes first."""
    if problem is not None and (report.problem is None or report.problem.seq is None
                                or (problem.seq is not None and problem.seq <= report.problem.seq)):
        report.ok, report.problem = False, problem
    return report
