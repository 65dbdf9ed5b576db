"""PostgreSQL backend: triggers refuse UPDATE, DELETE and TRUNCATE; an advisory lock orders the chain."""

from __future__ import annotations

import contextlib
import threading
from datetime import datetime
from typing import Callable, Iterator

from mlobs.audit.storage import pg_bounded, store_format, tree_store
from mlobs.audit.record import GENESIS_HASH
from mlobs.audit.storage.row_checks import RowSource
from mlobs.audit.keys.signing import Checkpoint
from mlobs.audit.storage.store import (
    INSERT_COLUMNS,
    SELECT_COLUMNS,
    Batch,
    Query,
    query_column_ddl,
)

CHAIN_LOCK = 0x6D6C6F6273  # "mlobs": one writer at a time extends the chain, across processes
PURGE_LOCK = 0x6D6C6F62  # "mlob", with the schema's hash: one purge at a time of each log, across processes

SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS audit_records (
    seq BIGINT PRIMARY KEY,
    header TEXT NOT NULL,
    payload BYTEA NOT NULL,
    hash TEXT NOT NULL,
"""
    + query_column_ddl("(header::jsonb ->> {})", "STORED")
    + """
);
CREATE INDEX IF NOT EXISTS audit_records_subject ON audit_records (subject);
CREATE INDEX IF NOT EXISTS audit_records_decision ON audit_records (decision_id);
CREATE INDEX IF NOT EXISTS audit_records_trace ON audit_records (trace_id);
CREATE INDEX IF NOT EXISTS audit_records_ts ON audit_records (ts);
CREATE INDEX IF NOT EXISTS audit_records_erasures ON audit_records (seq) WHERE event_type = 'erasure';
CREATE INDEX IF NOT EXISTS audit_records_rotations ON audit_records (seq) WHERE event_type = 'key_rotation';
CREATE TABLE IF NOT EXISTS audit_checkpoints (
    seq BIGINT PRIMARY KEY,
    hash TEXT NOT NULL,
    ts TEXT NOT NULL,
    key_id TEXT NOT NULL,
    signature TEXT NOT NULL
);
DROP TABLE IF EXISTS audit_raw;
CREATE TABLE IF NOT EXISTS audit_raw_rows (
    seq BIGINT PRIMARY KEY,
    payload BYTEA NOT NULL
);
CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END $$;
"""
)

APPEND_ONLY_TABLES = ("audit_records", "audit_checkpoints", *tree_store.TABLES)


def _triggers() -> list[str]:
    out = []
    for table in APPEND_ONLY_TABLES:
        out.append(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        out.append(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()"
        )
        out.append(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        out.append(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()"
        )
        # Roles other than the owner get no way to change rows either.
        out.append(f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM PUBLIC")
    return out


class PostgresStore:
    def __init__(self, url: str, timeout_s: float = pg_bounded.DEFAULT_TIMEOUT_S) -> None:
        self.url = url
        self.timeout_s = timeout_s
        # Transactions are explicit blocks. A connection dropped because the server stopped answering
        # is replaced at the next write or read: the store recovers once the server is back.
        self._writer = pg_bounded.Session(url, timeout_s)
        conn = self._writer.conn()
        try:
            with conn.transaction():
                conn.execute(f"SELECT pg_advisory_xact_lock({CHAIN_LOCK})")  # concurrent first opens
                store_format.check_postgres(conn, store_format.postgres_where(conn))
                conn.execute(SCHEMA)
                conn.execute(store_format.POSTGRES_SCHEMA)
                conn.execute(tree_store.POSTGRES_SCHEMA)
                for statement in _triggers():
                    conn.execute(statement)
        except BaseException:
            self._writer.close()
            raise
        self._reader = pg_bounded.Session(url, timeout_s)
        # Verify's row checks scan the whole log in one statement: a connection of their own, with the
        # verifier's longer bound on each exchange (connecting within the store's).
        self._checks = pg_bounded.Session(url, pg_bounded.VERIFY_TIMEOUT_S, connect_timeout_s=timeout_s)
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._checks_lock = threading.Lock()
        self.commits = 0

    def write(self, build: Callable[[int, str], Batch]) -> Batch:
        with self._write_lock:
            conn = self._writer.conn()
            with conn.transaction():  # commits (durably, synchronous_commit on) or rolls back
                conn.execute(f"SELECT pg_advisory_xact_lock({CHAIN_LOCK})")
                row = conn.execute("SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1").fetchone()
                batch = build(*(row if row else (0, GENESIS_HASH)))
                with conn.cursor() as cur:
                    if batch.records:
                        with cur.copy(f"COPY audit_records ({INSERT_COLUMNS}) FROM STDIN") as copy:
                            for record in batch.records:
                                copy.write_row(record)
                    if batch.tree_nodes or batch.tree_note:
                        tree_store.insert_postgres(cur, batch.tree_nodes, batch.tree_note)
                    if batch.raw_erase:
                        cur.execute("DELETE FROM audit_raw_rows WHERE seq IN "
                                    "(SELECT seq FROM audit_records WHERE subject = ANY(%s))", (batch.raw_erase,))
                    if batch.raw_delete:
                        cur.execute("DELETE FROM audit_raw_rows WHERE seq = ANY(%s)", (batch.raw_delete,))
                    if batch.raws:
                        cur.executemany(
                            "INSERT INTO audit_raw_rows (seq, payload) VALUES (%s, %s) "
                            "ON CONFLICT (seq) DO UPDATE SET payload = EXCLUDED.payload",
                            batch.raws,
                        )
                    if batch.checkpoint is not None:
                        c = batch.checkpoint
                        cur.execute(
                            "INSERT INTO audit_checkpoints (seq, hash, ts, key_id, signature) "
                            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (seq) DO NOTHING",
                            (c.seq, c.hash, c.ts, c.key_id, c.signature),
                        )
            self.commits += 1
            return batch

    def _read(self, sql: str, params: tuple | list = ()) -> list[tuple]:
        with self._read_lock:
            try:
                return self._reader.conn().execute(sql, params).fetchall()
            except pg_bounded.StoreNotAnswering:
                # Once more on a fresh connection: an idle one a partition caught is dead even once
                # the server is back, and a read is safe to repeat.
                return self._reader.conn().execute(sql, params).fetchall()

    def head(self) -> tuple[int, str]:
        rows = self._read("SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1")
        return tuple(rows[0]) if rows else (0, GENESIS_HASH)

    def iter_rows(self, chunk: int = 10_000) -> Iterator[tuple]:
        # A named (server-side) cursor streams the table without loading it whole. Its transaction waits
        # idle while the caller works through a chunk (an export writing it out): the verifier's bound.
        with pg_bounded.connect(self.url, pg_bounded.VERIFY_TIMEOUT_S, autocommit=False,
                                connect_timeout_s=self.timeout_s) as conn:
            with conn.cursor(name="audit_verify") as cur:
                cur.itersize = chunk
                cur.execute(f"SELECT {SELECT_COLUMNS} FROM audit_records ORDER BY seq")
                yield from cur

    def query(self, query: Query) -> list[tuple]:
        where, params = query.where("%s")
        sql = f"SELECT {SELECT_COLUMNS} FROM audit_records{where} ORDER BY seq"
        if query.limit is not None:
            sql += f" LIMIT {int(query.limit)}"
        return self._read(sql, params)

    def checkpoints(self) -> list[Checkpoint]:
        rows = self._read("SELECT seq, hash, ts, key_id, signature FROM audit_checkpoints ORDER BY seq")
        return [Checkpoint(*row) for row in rows]

    def raw_get(self, seq: int) -> bytes | None:
        rows = self._read("SELECT payload FROM audit_raw_rows WHERE seq = %s", (seq,))
        return bytes(rows[0][0]) if rows else None

    def raw_expired(self, before_ts: str, limit: int) -> list[int]:
        rows = self._read("SELECT r.seq FROM audit_raw_rows AS r JOIN audit_records AS a ON a.seq = r.seq "
                          "WHERE a.ts < %s ORDER BY r.seq LIMIT %s", (before_ts, limit))
        return [row[0] for row in rows]

    def raw_oldest_ts(self) -> str | None:
        """The record time of the oldest raw payload held (the lowest seq: records are stamped in order)."""
        rows = self._read("SELECT a.ts FROM audit_raw_rows AS r JOIN audit_records AS a ON a.seq = r.seq "
                          "ORDER BY r.seq LIMIT 1")
        return rows[0][0] if rows else None

    def server_now(self) -> datetime:
        """The server's clock: on another host, a second opinion on this one's for purges."""
        return self._read("SELECT now()")[0][0]

    def row_source(self) -> RowSource:
        """The records and raw rows as verify's row checks read them (on a connection of their own)."""
        def query(sql: str, params) -> list[tuple]:
            with self._checks_lock:
                return self._checks.conn().execute(sql.replace("?", "%s"), params).fetchall()

        return RowSource(query, sqlite=False)

    @contextlib.contextmanager
    def purging(self) -> Iterator[bool]:
        """Whether no other purge of this log runs (in any process): held, as an advisory lock of the reader
        connection (released with it, should the process die), until the block ends."""
        alone = self._read("SELECT pg_try_advisory_lock(%s, hashtext(current_schema()))", (PURGE_LOCK,))[0][0]
        try:
            yield alone
        finally:
            if alone:
                self._read("SELECT pg_advisory_unlock(%s, hashtext(current_schema()))", (PURGE_LOCK,))

    def wipe_wal(self) -> None:
        pass  # PostgreSQL reuses dead tuples' space; VACUUM is the operator's

    def close(self) -> None:
        with self._write_lock:
            self._writer.close()
        with self._read_lock:
            self._reader.close()
        with self._checks_lock:
            self._checks.close()

