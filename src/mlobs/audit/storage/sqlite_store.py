"""SQLite backend: WAL, synchronous=FULL, triggers that refuse UPDATE and DELETE."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Callable, Iterator

from mlobs.audit.storage import tree_store
from mlobs.audit.files import OpenFile, private_file, private_sqlite
from mlobs.audit.volumes import cannot_open
from mlobs.audit.record import GENESIS_HASH
from mlobs.audit.keys.signing import Checkpoint
from mlobs.audit.storage.sqlite_lookup import (
    MOST_BEHIND,
    Lookup,
    attach,
    candidates,
    lookup_path,
)
from mlobs.audit.storage.sqlite_lookup import header_field as field
from mlobs.audit.storage.sqlite_readonly import connect_readonly
from mlobs.audit.storage.store_format import check_sqlite, stamp_sqlite
from mlobs.audit.sqlite_rows import insert_rows
from mlobs.audit.storage.row_checks import RowSource
from mlobs.audit.storage.store import INSERT_COLUMNS, SELECT_COLUMNS, Batch, Query

log = logging.getLogger(__name__)

COMMITTER_CACHE_KIB = 65536  # SQLite's page cache of the committer's connection (64 MiB)
READER_CACHE_KIB = 8192  # of every other connection's, for the log's pages
LOOKUP_DELAY_S = 1.0  # how long the subject and trace lookups may trail a commit, unless MOST_BEHIND wait


SCHEMA = f"""
CREATE TABLE IF NOT EXISTS audit_records (
    seq INTEGER PRIMARY KEY,
    header TEXT NOT NULL,
    payload BLOB NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_records_by_decision ON audit_records ({field("decision_id")});
CREATE INDEX IF NOT EXISTS audit_records_by_ts ON audit_records ({field("ts")});
-- Erasure records only (a partial index: a decision's insert evaluates its condition and writes
-- nothing to it), so that verify finds the erased pseudonyms without reading every record.
CREATE INDEX IF NOT EXISTS audit_records_erasures ON audit_records (seq) WHERE {field("event_type")} = 'erasure';
-- Key rotations likewise: verify looks for them in every log (a rotated key is retired past its rotation).
CREATE INDEX IF NOT EXISTS audit_records_rotations ON audit_records (seq) WHERE {field("event_type")} = 'key_rotation';
-- Subjects and trace ids are looked up in a side database (sqlite_lookup); logs made before it
-- indexed them here, in every commit.
DROP INDEX IF EXISTS audit_records_by_subject;
DROP INDEX IF EXISTS audit_records_by_trace;
CREATE TABLE IF NOT EXISTS audit_checkpoints (
    seq INTEGER PRIMARY KEY,
    hash TEXT NOT NULL,
    ts TEXT NOT NULL,
    key_id TEXT NOT NULL,
    signature TEXT NOT NULL
);
-- Raw payloads by their decision's seq. Everything else about one (its hash, its subject, its
-- expiry: the record's time plus the retention) is in the chained record, so nothing here can
-- be edited to keep a payload longer or to swap one (raw_store). The earlier layout kept an
-- editable expiry and no hash: its short-lived rows are dropped.
DROP TABLE IF EXISTS audit_raw;
CREATE TABLE IF NOT EXISTS audit_raw_rows (
    seq INTEGER PRIMARY KEY,
    payload BLOB NOT NULL
);
"""
# No index by subject: an erasure finds the subject's raw rows through the records' subject
# lookup instead. Random-key indexes cost a page per record in every commit.

APPEND_ONLY_TABLES = ("audit_records", "audit_checkpoints", *tree_store.TABLES)


def _triggers() -> str:
    out = []
    for table in APPEND_ONLY_TABLES:
        for action in ("UPDATE", "DELETE"):
            out.append(
                f"CREATE TRIGGER IF NOT EXISTS {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {action} refused'); END;"
            )
    return "\n".join(out)


class SqliteStore:
    def __init__(
        self,
        path: str | Path,
        busy_timeout_s: float = 10.0,
        lookup_delay_s: float = LOOKUP_DELAY_S,
        lookup_most_behind: int = MOST_BEHIND,
    ) -> None:
        self.path = Path(path)
        self._timeout = busy_timeout_s
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._readers: list[tuple[threading.Thread, sqlite3.Connection]] = []  # one per thread that reads
        self._readers_lock = threading.Lock()  # not the write lock: the committer reads while holding it
        self.commits = 0
        conn = None
        try:
            self._check_format()
            private_sqlite(self.path)
            private_sqlite(lookup_path(self.path))
            # The committer's connection never has the lookup attached: its BEGIN IMMEDIATE would
            # lock the lookup too, and the lookup's catching up would hold up commits.
            self._conn = conn = self._connect()
            self._file = OpenFile(self.path)  # the file the committer has open
            stamp_sqlite(conn)
            conn.executescript(SCHEMA + tree_store.SQLITE_SCHEMA + _triggers())
            self.lookup = self._open_lookup(lookup_delay_s, lookup_most_behind)
        except BaseException as exc:
            if conn is not None:
                conn.close()  # a failed open holds nothing open
            if isinstance(exc, (sqlite3.OperationalError, OSError)):
                raise cannot_open(self.path, exc) from exc
            raise

    def _check_format(self) -> None:
        """Read only, before anything of ours touches the file (its mode, its journal): it may be
        another program's database, or a log of a newer format."""
        if not self.path.exists():
            return
        conn = connect_readonly(self.path, timeout=self._timeout)
        try:
            check_sqlite(conn, str(self.path))
        finally:
            conn.close()

    def _open_lookup(self, delay_s: float, most_behind: int) -> Lookup:
        try:
            return Lookup(self._connect_with_lookup, delay_s, most_behind)
        except sqlite3.DatabaseError as exc:
            if getattr(exc, "sqlite_errorcode", None) not in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT):
                raise  # locked, read-only, out of space: not ours to mend
            # Derived data: a damaged lookup is replaced, and the new one is built from the log.
            log.warning("audit: lookup index %s is damaged (%s); rebuilding it", lookup_path(self.path), exc)
            for suffix in ("", "-wal", "-shm"):
                Path(f"{lookup_path(self.path)}{suffix}").unlink(missing_ok=True)
            private_sqlite(lookup_path(self.path))
            return Lookup(self._connect_with_lookup, delay_s, most_behind)

    def _connect_with_lookup(self) -> sqlite3.Connection:
        conn = self._connect()
        # The lookup's catching up and the readers (checkpoints, purges, queries) go through the log in
        # order and rarely read a page twice: a large cache of the log would only hold memory. The
        # committer's keeps the indexes it updates at random; the lookup keeps its own (Lookup).
        conn.execute(f"PRAGMA main.cache_size=-{READER_CACHE_KIB}")
        attach(conn, self.path)
        return conn

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA secure_delete=ON")  # purged raw payloads leave no bytes behind
        # Checkpoint the WAL into the database every ~40 MB rather than every 4 MB: index pages
        # rewritten by many commits are copied once; the WAL file is cut back after each checkpoint.
        conn.execute("PRAGMA wal_autocheckpoint=10000")
        conn.execute("PRAGMA journal_size_limit=67108864")
        conn.execute(f"PRAGMA cache_size=-{COMMITTER_CACHE_KIB}")
        return conn

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect_with_lookup()
            with self._readers_lock:
                # Threads come and go (a verify's sweep, a server's pool): their connections, each with
                # its files and page cache, go with them, so readers stay as many as live threads.
                for thread, gone in self._readers:
                    if not thread.is_alive():
                        gone.close()
                self._readers = [(t, c) for t, c in self._readers if t.is_alive()]
                self._readers.append((threading.current_thread(), conn))
        return conn

    def write(self, build: Callable[[int, str], Batch]) -> Batch:
        with self._write_lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")  # the chain lock, across processes too
            try:
                seq, hash_ = self._head(conn)
                batch = build(seq, hash_)
                if batch.records:
                    insert_rows(conn, f"INSERT INTO audit_records ({INSERT_COLUMNS}) VALUES", batch.records)
                if batch.tree_nodes or batch.tree_note:
                    tree_store.insert_sqlite(conn, batch.tree_nodes, batch.tree_note)
                gone = list(batch.raw_delete)
                if batch.raw_erase:
                    # Read while this connection holds the write lock: every record committed so far.
                    gone += self._seqs(batch.raw_erase)
                if gone:
                    conn.executemany("DELETE FROM audit_raw_rows WHERE seq = ?", [(s,) for s in gone])
                if batch.raws:
                    insert_rows(conn, "INSERT OR REPLACE INTO audit_raw_rows (seq, payload) VALUES", batch.raws)
                if batch.checkpoint is not None:
                    c = batch.checkpoint
                    conn.execute(
                        "INSERT OR IGNORE INTO audit_checkpoints (seq, hash, ts, key_id, signature)"
                        " VALUES (?, ?, ?, ?, ?)",
                        (c.seq, c.hash, c.ts, c.key_id, c.signature),
                    )
                self._file.check()
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            self.commits += 1
        self.lookup.written(len(batch.records))
        return batch

    def _seqs(self, subjects: list[str]) -> list[int]:
        sql, params = self.query_sql(Query(subjects=subjects), "seq")
        return [row[0] for row in self._reader().execute(sql, params)]

    @staticmethod
    def _head(conn: sqlite3.Connection) -> tuple[int, str]:
        row = conn.execute("SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1").fetchone()
        return (row[0], row[1]) if row else (0, GENESIS_HASH)

    def head(self) -> tuple[int, str]:
        return self._head(self._reader())

    def iter_rows(self, chunk: int = 10_000) -> Iterator[tuple]:
        # Ordered by seq (the rowid): a plain scan of the table's b-tree.
        cur = self._reader().execute(f"SELECT {SELECT_COLUMNS} FROM audit_records ORDER BY seq")
        while rows := cur.fetchmany(chunk):
            yield from rows

    def query(self, query: Query) -> list[tuple]:
        return self._reader().execute(*self.query_sql(query)).fetchall()

    @staticmethod
    def query_sql(query: Query, columns: str = SELECT_COLUMNS) -> tuple[str, list]:
        where, params = query.where("?", field)
        # A random-key field is looked up in the side database; the field's own condition stays.
        by = "subject" if query.subjects else "trace_id" if query.trace_id is not None else None
        if by is not None:
            seqs, more = candidates(by, query.subjects if by == "subject" else [query.trace_id])
            where, params = f"{where} AND seq IN ({seqs})", [*params, *more]
        sql = f"SELECT {columns} FROM audit_records{where} ORDER BY seq"
        if query.limit is not None:
            sql += f" LIMIT {int(query.limit)}"
        return sql, params

    def checkpoints(self) -> list[Checkpoint]:
        rows = self._reader().execute("SELECT seq, hash, ts, key_id, signature FROM audit_checkpoints ORDER BY seq")
        return [Checkpoint(*row) for row in rows]

    def raw_get(self, seq: int) -> bytes | None:
        row = self._reader().execute("SELECT payload FROM audit_raw_rows WHERE seq = ?", (seq,)).fetchone()
        return row[0] if row is not None else None

    def raw_expired(self, before_ts: str, limit: int) -> list[int]:
        sql = ("SELECT r.seq FROM audit_raw_rows AS r JOIN audit_records AS a ON a.seq = r.seq "
               "WHERE json_extract(a.header, '$[4]') < ? ORDER BY r.seq LIMIT ?")
        return [row[0] for row in self._reader().execute(sql, (before_ts, limit))]

    def raw_oldest_ts(self) -> str | None:
        """The record time of the oldest raw payload held (the lowest seq: records are stamped in order)."""
        row = self._reader().execute("SELECT json_extract(a.header, '$[4]') FROM audit_raw_rows AS r "
                                     "JOIN audit_records AS a ON a.seq = r.seq ORDER BY r.seq LIMIT 1").fetchone()
        return row[0] if row else None

    def server_now(self) -> None:
        """No server: the file is read on this host, by its clock."""
        return None

    def row_source(self) -> RowSource:
        """The records and raw rows as verify's row checks read them (on this thread's reader)."""
        return RowSource(tree_store.sqlite_query(self._reader()), sqlite=True)

    @contextlib.contextmanager
    def purging(self) -> Iterator[bool]:
        """Whether no other purge of this log runs (in any process): held, as a lock on a file beside the log
        (`audit.db-purge`, never the log's own: SQLite's locks on it are its own), until the block ends."""
        with open(private_file(self.path.with_name(self.path.name + "-purge")), "rb") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True

    def wipe_wal(self) -> None:
        """Copy the WAL into the database and empty it: deleted payloads leave no copy in the WAL."""
        with self._write_lock:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        self.lookup.close()
        with self._write_lock, self._readers_lock:
            self._conn.close()
            for _, conn in self._readers:
                conn.close()
            self._readers.clear()
        self._local = threading.local()
