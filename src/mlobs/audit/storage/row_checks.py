"""The checks verify makes beyond the chain and the tree, on any connection that can read the log.

- Every record's columns are of their canonical types (SQLite keeps whatever type a value was
  written with; a payload turned TEXT with the same bytes hashes the same but is not the record).
- The raw store against the chained records (`raw_store.check`): no raw row missing, planted,
  swapped, altered or kept past its expiry.
- Record times against the verifier's clock (`time_notes`): records stamped ahead of it, where the
  writer's wall clock ran ahead. A note, not a failure (times that go back: mlobs.audit.time_steps).

Both `AuditLog.verify()` (the service's own store) and `mlobs audit verify` (a read-only
connection and the verifier's own key) run these through a RowSource, so one implementation
serves both. Only SELECTs are issued: nothing is created or written.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable, Iterator

import orjson

from mlobs.audit.record import EVENT_ERASURE, EVENT_RAW_PURGE, QUERY_FIELDS, format_ts
from mlobs.audit.time_steps import STEPPED_S
from mlobs.audit.verify import Problem

_PAGE = 10_000  # raw rows read at a time: memory stays bounded whatever the store holds
_IN = 900  # seqs per IN (...) list: within SQLite's smallest variable limit

Query = Callable[[str, tuple], list]


class RowSource:
    """Read-only queries of records and raw rows. `query(sql, params)` takes `?` placeholders
    (a PostgreSQL query function turns them into `%s`); `sqlite` says which SQL dialect."""

    def __init__(self, query: Query, sqlite: bool) -> None:
        self._query = query
        self.sqlite = sqlite
        self._field = (lambda name: f"json_extract(header, '$[{QUERY_FIELDS[name]}]')") if sqlite else (lambda n: n)
        self.has_raw = bool(query(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_raw_rows'" if sqlite
            else "SELECT 1 WHERE to_regclass('audit_raw_rows') IS NOT NULL", ()))

    def sweep(self, since_ts: str) -> tuple[tuple | None, list[int]]:
        """The first record whose columns are not of their canonical types, as (seq, header type,
        payload type, hash type), or None; and the seqs of records from since_ts on whose
        payload names a raw payload. One scan of the records for both (and one up to the window's start)."""
        if not self.sqlite:  # PostgreSQL columns are typed (BYTEA cannot hold TEXT): only the raw marker
            rows = self._query("SELECT seq FROM audit_records WHERE ts >= ? AND "
                               "position('\"raw_sha256\"'::bytea IN payload) > 0 ORDER BY seq", (since_ts,))
            return None, [row[0] for row in rows]
        ts = self._field("ts")
        # Where the window starts: its smallest seq. Not the seq of its earliest time: seq order trails time
        # order by a queue's worth of records, and by any step of the writer's clock (a record stamped ahead
        # by a clock that was later set back lies in the window, far before its earliest time by seq).
        row = self._query(f"SELECT min(seq) FROM audit_records WHERE {ts} >= ?", (since_ts,))
        first = row[0][0] if row else None
        typed = "typeof(header) = 'text' AND typeof(payload) = 'blob' AND typeof(hash) = 'text'"
        raw = "(seq >= ? AND instr(payload, CAST('\"raw_sha256\"' AS BLOB)) > 0)" if first is not None else "0"
        rows = self._query(f"SELECT seq, {typed} FROM audit_records WHERE NOT ({typed}) OR {raw} ORDER BY seq",
                           (first,) if first is not None else ())
        bad = next((seq for seq, ok in rows if not ok), None)
        mistyped = None
        if bad is not None:
            mistyped = tuple(self._query("SELECT seq, typeof(header), typeof(payload), typeof(hash) "
                                         "FROM audit_records WHERE seq = ?", (bad,))[0])
        return mistyped, [seq for seq, _ in rows if first is not None and seq >= first]

    def raw_records(self, seqs: list[int]) -> list[tuple]:
        """(seq, decision_id, ts, subject, raw_sha256) of those of `seqs` that are decisions."""
        if self.sqlite:
            payload = "CAST(payload AS TEXT)"
            raw = f"CASE WHEN json_valid({payload}) THEN json_extract({payload}, '$.raw_sha256') END"
        else:
            raw = "convert_from(payload, 'UTF8')::jsonb ->> 'raw_sha256'"
        f = self._field
        out: list[tuple] = []
        for lo in range(0, len(seqs), _IN):
            chunk = tuple(seqs[lo : lo + _IN])
            out += self._query(
                f"SELECT seq, {f('decision_id')}, {f('ts')}, {f('subject')}, {raw} FROM audit_records "
                f"WHERE seq IN ({', '.join('?' * len(chunk))}) AND {f('event_type')} = 'decision'", chunk)
        return sorted(tuple(r) for r in out)

    def raw_rows(self) -> Iterator[tuple[int, bytes]]:
        """Every raw payload (seq, stored value), by seq, a page at a time."""
        after = 0
        while rows := self._query("SELECT seq, payload FROM audit_raw_rows WHERE seq > ? ORDER BY seq LIMIT ?",
                                  (after, _PAGE)):
            for seq, payload in rows:
                yield seq, bytes(payload) if isinstance(payload, memoryview) else payload
            after = rows[-1][0]

    def erased_pseudonyms(self) -> set[str]:
        """The pseudonyms every erasure record names. The condition is written out, not bound, so
        that both databases use their partial index of erasures (a scan of every record without)."""
        out: set[str] = set()
        rows = self._query(f"SELECT payload FROM audit_records WHERE {self._field('event_type')} = "
                           f"'{EVENT_ERASURE}' ORDER BY seq", ())
        for (payload,) in rows:
            try:
                out.update((orjson.loads(bytes(payload) if not isinstance(payload, str) else payload)
                            .get("details") or {}).get("pseudonyms", []))
            except (orjson.JSONDecodeError, AttributeError, TypeError):
                continue  # an unreadable record is named by the type and chain checks
        return out

    def times_after(self, ts: str, up_to: int | None = None) -> tuple | None:
        """(seq, ts, how many such) of the first record (of seqs up to `up_to`) stamped after `ts`, or None.
        By the ts index: the newest time first (one row), the records after `ts` only if there are any."""
        f = self._field("ts")
        newest = self._query(f"SELECT {f} FROM audit_records WHERE {f} IS NOT NULL ORDER BY {f} DESC LIMIT 1", ())
        if not newest or newest[0][0] <= ts:
            return None
        within = "" if up_to is None else " AND seq <= ?"
        rows = self._query(f"SELECT seq, {f}, count(*) OVER () FROM audit_records WHERE {f} > ?{within} "
                           "ORDER BY seq LIMIT 1", (ts,) if up_to is None else (ts, up_to))
        return tuple(rows[0]) if rows else None

    def purged_before(self) -> str | None:
        """The time before which the log's latest recorded purge deleted raw payloads (its operator's
        retention, which may be shorter than the verifier's), or None if the log records no purge.
        Read backwards from the newest record: purges run on a schedule, so one is near the end."""
        rows = self._query(f"SELECT payload FROM audit_records WHERE {self._field('event_type')} = "
                           f"'{EVENT_RAW_PURGE}' ORDER BY seq DESC LIMIT 1", ())
        try:
            before = orjson.loads(bytes(rows[0][0]) if not isinstance(rows[0][0], str) else rows[0][0])[
                "details"]["recorded_before"] if rows else None
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return None  # an unreadable record is named by the type and chain checks
        return before if isinstance(before, str) else None


def window_start(now: datetime, retention_days: float) -> str:
    """The time from which decisions' raw payloads must still be kept."""
    return format_ts(now - timedelta(days=retention_days))


def time_notes(source: RowSource, now: datetime) -> list[str]:
    """A note on records stamped after `now` (the verifier's clock) by more than STEPPED_S: the writer's
    wall clock ran ahead. (Times that go back are noted by the chain check, which reads every header
    anyway: mlobs.audit.time_steps.)"""
    try:
        ahead = source.times_after(format_ts(now + timedelta(seconds=STEPPED_S)))
    except Exception as exc:  # records too damaged for SQL to read them: the chain and type checks name them
        return [f"record times not checked: {type(exc).__name__}: {exc}"]
    if ahead is None:
        return []
    seq, ts, n = ahead
    return [f"{n} record(s) are stamped more than a minute after this verifier's clock, first at seq {seq} "
            f"({ts}): the writer's wall clock ran ahead (or this one is behind)"]


def check(source: RowSource, now: datetime, retention_days: float) -> Problem | None:
    """The first problem (smallest seq) of the type check and the raw-store check, or None."""
    from mlobs.audit.storage import raw_store
    from mlobs.audit.strict import mistyped_problem

    try:
        mistyped, marked = source.sweep(window_start(now, retention_days))
    except Exception as exc:  # records too damaged for SQL to read (malformed JSON): the chain check names them
        return Problem(None, None, f"types and raw store not checked: {type(exc).__name__}: {exc}")
    problems = [p for p in (mistyped_problem(mistyped),
                            raw_store.check(source, now, retention_days, marked) if source.has_raw else None)
                if p is not None]
    if not problems:
        return None
    return min(problems, key=lambda p: (p.seq is None, p.seq or 0))
