"""Lookups by subject and by trace id for the SQLite log, in a side database that trails the log.

Pseudonyms and trace ids are random keys. Indexed inside the log's durable commit, each costs
about a page per record per index, written to the WAL and waited for by the fsync that every
decision waits for. Here they are indexed after the commit, many records at a time and in key
order, in a database that is not synced at commit: it is derived from the log, and a lookup
that is lost, stale or made for another history of the file is rebuilt from the log. A query
reads the lookup up to its mark and scans the log's records after the mark, so results are
exact whatever the lookup's lag.

Entries are keyed by (bucket, key prefix, seq), a bucket being 8,192 consecutive records. In
one table ordered by key, every new record lands on a random page of a tree that grows with
the log: catching up cost 13 µs a record in a log of 5,000 records and 41 µs at 200,000. In
buckets, new records land in the newest bucket's few pages, about 3 µs a record per table at
any size; a query probes each bucket (0.2 ms for a trace id at 1,000,000 records). A key is
the value's first 12 characters (pseudonyms and trace ids are random hex): a smaller tree, and
callers keep their own condition on the whole value.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path
from typing import Callable

from mlobs.audit.background import start_thread
from mlobs.audit.record import GENESIS_HASH, QUERY_FIELDS
from mlobs.audit.storage.sqlite_readonly import readonly_uri

log = logging.getLogger(__name__)

TABLES = {"subject": "lookup_by_subject", "trace_id": "lookup_by_trace"}
CHUNK = 50_000  # records per lookup transaction: a rebuild never holds the lookup's lock for long
SAY_FROM = 100_000  # records behind at open: about two seconds of indexing here, worth a word
MOST_BEHIND = 5_000  # records a query may have to scan past the mark when the log is written fast (~9 ms)
BUCKET_BITS = 13  # 8,192 records a bucket
KEY_CHARS = 12
# Tables of earlier layouts: derived data, dropped and rebuilt from the log.
_EARLIER = ("lookup_subject", "lookup_trace", "lookup_mark")

SCHEMA = "".join(f"DROP TABLE IF EXISTS lookup.{table};\n" for table in _EARLIER) + "".join(
    f"CREATE TABLE IF NOT EXISTS lookup.{table} (bucket INTEGER NOT NULL, key TEXT NOT NULL, "
    "seq INTEGER NOT NULL, PRIMARY KEY (bucket, key, seq)) WITHOUT ROWID;\n"
    for table in TABLES.values()
) + (
    "CREATE TABLE IF NOT EXISTS lookup.lookup_position "
    "(id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL);\n"
    f"INSERT OR IGNORE INTO lookup.lookup_position VALUES (1, 0, '{GENESIS_HASH}');\n"
)
_MARK = "coalesce((SELECT seq FROM lookup.lookup_position), 0)"


def header_field(name: str) -> str:
    """A header field as SQL. Indexes are on these expressions rather than on generated columns:
    SQLite computes every generated column on each insert, indexed or not."""
    return f"json_extract(header, '$[{QUERY_FIELDS[name]}]')"


def lookup_path(log_path: Path) -> Path:
    return log_path.with_name(f"{log_path.stem}.lookup{log_path.suffix}")


def attach(conn: sqlite3.Connection, log_path: Path) -> None:
    conn.execute("ATTACH DATABASE ? AS lookup", (str(lookup_path(log_path)),))


def candidates(name: str, values: list[str]) -> tuple[str, list[str]]:
    """SQL for the seqs of records whose field `name` is one of `values` (indexed ones, then those
    after the mark), and its parameters; for connections with the lookup attached. A superset
    where values share their first KEY_CHARS characters, or the log was edited after indexing:
    callers keep their own condition on the field."""
    marks, table = ", ".join("?" * len(values)), TABLES[name]
    sql = (
        f"WITH RECURSIVE lookup_buckets(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM lookup_buckets "
        f"WHERE n < {_MARK} >> {BUCKET_BITS}) "
        f"SELECT {table}.seq FROM lookup_buckets JOIN lookup.{table} AS {table} "
        f"ON {table}.bucket = lookup_buckets.n AND {table}.key IN ({marks}) UNION ALL "
        f"SELECT seq FROM main.audit_records WHERE seq > {_MARK} AND {header_field(name)} IN ({marks})"
    )
    return sql, [*(value[:KEY_CHARS] for value in values), *values]


def first_unlisted(conn: sqlite3.Connection, log_path: Path) -> tuple[int, str] | None:
    """(seq, field) of the first record up to the lookup's mark that the lookup does not list under its
    subject or trace id: a query by that value would not return it, so an edited lookup could hide a
    subject's records from their access request. None when there is no lookup, or one made for another
    history or unreadable (the log's next open rebuilds it). `conn` reads the log, opened with uri=True."""
    path = lookup_path(log_path)
    if not path.is_file():
        return None
    try:
        conn.execute("ATTACH DATABASE ? AS lookup", (readonly_uri(path),))
    except sqlite3.DatabaseError:
        return None
    try:
        mark = conn.execute("SELECT seq, hash FROM lookup.lookup_position").fetchone()
        if not mark or not mark[0] or conn.execute(
                "SELECT hash FROM main.audit_records WHERE seq = ?", (mark[0],)).fetchone() != (mark[1],):
            return None
        found = []
        for name, table in TABLES.items():
            seq = conn.execute(
                f"SELECT min(seq) FROM (SELECT seq >> {BUCKET_BITS} AS bucket, key, seq FROM (SELECT "
                f"substr({header_field(name)}, 1, {KEY_CHARS}) AS key, seq FROM main.audit_records WHERE seq <= ?) "
                f"WHERE key IS NOT NULL EXCEPT SELECT bucket, key, seq FROM lookup.{table})", (mark[0],)).fetchone()[0]
            if seq is not None:
                found.append((seq, name))
        return min(found) if found else None
    except sqlite3.DatabaseError:
        return None
    finally:
        conn.execute("DETACH DATABASE lookup")


class Lookup:
    """Keeps the side database caught up: at open, `delay_s` after a commit or as soon as
    `most_behind` records wait (on a thread of its own, started by the first commit), and at close."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], delay_s: float, most_behind: int) -> None:
        self._delay = delay_s
        self._most = most_behind
        self._behind = 0  # committed since the thread last woke (a lost count only waits for delay_s)
        self._lock = threading.Lock()
        self._due = threading.Event()
        self._enough = threading.Event()
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn = connect()  # the log as main, the lookup attached
        try:
            self._conn.execute("PRAGMA lookup.journal_mode=WAL")
            self._conn.execute("PRAGMA lookup.synchronous=NORMAL")  # derived data: no fsync per commit
            self._conn.execute("PRAGMA lookup.cache_size=-65536")
            self._conn.executescript(SCHEMA)
            behind = self._conn.execute(f"SELECT coalesce(max(seq), 0) - {_MARK} FROM main.audit_records").fetchone()[0]
            if behind >= SAY_FROM:  # a new or rebuilt lookup for a large log: opening takes a while
                log.warning("audit: indexing %d records by subject and trace id before the log opens", behind)
            self.catch_up()
        except BaseException:
            self._conn.close()  # a damaged file is replaced by the caller: let go of it
            raise

    def written(self, records: int) -> None:
        """A commit of `records` happened: index it within delay_s, or at once if enough wait."""
        if self._thread is None:
            with self._lock:
                if self._thread is None and not self._closing.is_set():
                    self._thread = start_thread(self._run, "mlobs-audit-lookup")
        self._behind += records
        if self._behind >= self._most:
            self._enough.set()
        self._due.set()

    def _run(self) -> None:
        while True:
            self._due.wait()
            # Let records gather: one transaction for many, their keys inserted in order (on the
            # credit service at full load, waiting 1 s instead of 0.25 s took the lookup's CPU from
            # about 32 to 12 µs a decision). The bound on records keeps the queries' scans short.
            self._enough.wait(self._delay)
            if self._closing.is_set():
                return
            self._due.clear()
            self._enough.clear()
            self._behind = 0
            try:
                self.catch_up()
            except Exception as exc:  # queries stay exact (they scan what is not indexed)
                log.error("audit: lookup index not updated: %s: %s", type(exc).__name__, exc)
                self._closing.wait(1.0)

    def catch_up(self) -> int:
        """Index every committed record after the mark; returns how many were indexed. Any number
        of threads and processes may call it: they take turns on the lookup's write lock."""
        done = 0
        with self._lock:
            while (step := self._step()) > 0:
                done += step
                if step < CHUNK:  # reached the head: no second transaction to find nothing
                    break
        return done

    def _step(self) -> int:
        conn = self._conn
        # The first statement writes, so the transaction holds the lookup's write lock (never the
        # log's: BEGIN IMMEDIATE would take both) before it reads the mark.
        conn.execute("BEGIN")
        try:
            conn.execute("UPDATE lookup.lookup_position SET seq = seq")
            seq, hash_ = conn.execute("SELECT seq, hash FROM lookup.lookup_position").fetchone()
            if seq and conn.execute("SELECT hash FROM main.audit_records WHERE seq = ?", (seq,)).fetchone() != (hash_,):
                # Made for another history of this file (restored, truncated, rewritten): start again.
                log.warning("audit: lookup index does not match the log at seq %d; rebuilding it", seq)
                for table in TABLES.values():
                    conn.execute(f"DELETE FROM lookup.{table}")
                seq = 0
            last = conn.execute(
                "SELECT seq, hash FROM main.audit_records WHERE seq > ? AND seq <= ? ORDER BY seq DESC LIMIT 1",
                (seq, seq + CHUNK),
            ).fetchone()
            if last is None:
                mark = (seq, hash_ if seq else GENESIS_HASH)
                conn.execute("UPDATE lookup.lookup_position SET seq = ?, hash = ?", mark)
                conn.execute("COMMIT")
                return 0
            for name, table in TABLES.items():
                conn.execute(
                    f"INSERT OR IGNORE INTO lookup.{table} (bucket, key, seq) SELECT seq >> {BUCKET_BITS}, key, seq "
                    f"FROM (SELECT substr({header_field(name)}, 1, {KEY_CHARS}) AS key, seq FROM main.audit_records "
                    "WHERE seq > ? AND seq <= ?) WHERE key IS NOT NULL ORDER BY 1, 2",
                    (seq, last[0]),
                )
            conn.execute("UPDATE lookup.lookup_position SET seq = ?, hash = ?", last)
            conn.execute("COMMIT")
            return last[0] - seq
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        if self._closing.is_set():  # closed already: its connection is gone
            return
        self._closing.set()
        self._enough.set()
        self._due.set()
        if self._thread is not None:
            self._thread.join()
        try:
            self.catch_up()
        except sqlite3.Error as exc:  # the next open catches up instead
            log.error("audit: lookup index not updated at close: %s", exc)
        self._conn.close()
