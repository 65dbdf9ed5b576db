"""Which audit logs this version of mlobs reads and writes.

Every log carries its format: in SQLite, the database header's application id and user version
(https://sqlite.org/fileformat2.html#database_header, offsets 68 and 60); in PostgreSQL, the one
row of `audit_store`. A log of a format this version does not know is refused, by name, before a
row is read or written: a deployment rolled back to an older mlobs must not append records that
the newer one's readers would have to take on trust, and a verifier must not report on a layout
it only half understands. A database that is not an mlobs log at all is refused the same way.

The format covers the log and the files beside it (the lookup, the key store): a change to any
of them takes a new format. Logs made before they carried their format hold format 1's tables;
the writer marks them.
"""

from __future__ import annotations

from mlobs.audit.errors import AuditError

FORMAT = 1  # the newest this version reads and the one it writes
SQLITE_APPLICATION_ID = 0x6D6C6F62  # "mlob"
RECORD_COLUMNS = ("seq", "header", "payload", "hash")
# Tables an mlobs log has held in any format (audit_raw: an earlier raw store's, dropped when next written).
SQLITE_TABLES = {"audit_records", "audit_checkpoints", "audit_raw", "audit_raw_rows", "audit_tree", "audit_tree_heads"}

POSTGRES_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS audit_store (
    one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
    format INTEGER NOT NULL
);
INSERT INTO audit_store (format) VALUES ({FORMAT}) ON CONFLICT (one) DO NOTHING;
"""


class UnknownStoreFormat(AuditError, ValueError):
    """The database is an audit log of a format this version does not know, or no mlobs audit log."""


def check_sqlite(conn, where: str) -> None:
    """Refuse a SQLite database that is not an mlobs audit log of a format this version knows."""
    application_id = conn.execute("PRAGMA application_id").fetchone()[0]
    if application_id not in (0, SQLITE_APPLICATION_ID):
        raise UnknownStoreFormat(f"{where} is not an mlobs audit log: its SQLite application id is "
                                 f"{application_id:#x}, an mlobs log's is {SQLITE_APPLICATION_ID:#x}")
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if application_id == SQLITE_APPLICATION_ID and version != 0:
        _check_version(version, where)
        return
    # A new database, a log made before logs carried their format, or another program's (most leave
    # the application id at 0: their tables say whose the file is). Our id without a version: a writer
    # of an earlier mlobs that marked in two steps.
    tables = [row[0] for row in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    if tables and not set(tables) & SQLITE_TABLES:
        raise UnknownStoreFormat(f"{where} is not an mlobs audit log: it holds the tables {', '.join(tables)} "
                                 "and no audit_records")
    _check_columns(tuple(row[1] for row in conn.execute("PRAGMA table_info(audit_records)")), where)


def stamp_sqlite(conn) -> None:
    """Mark the writer's database, checked by check_sqlite, as a log of this format if it is not marked yet:
    both marks in one transaction, so that no reader, and no failure between them, sees one without the
    other. `conn` is in autocommit mode."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        if (conn.execute("PRAGMA application_id").fetchone()[0] == 0
                or conn.execute("PRAGMA user_version").fetchone()[0] == 0):
            conn.execute(f"PRAGMA user_version = {FORMAT}")
            conn.execute(f"PRAGMA application_id = {SQLITE_APPLICATION_ID}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def check_postgres(conn, where: str) -> None:
    """As check_sqlite, for a PostgreSQL log (the writer's schema then creates `audit_store`)."""
    if conn.execute(f"SELECT {postgres_table('audit_store')}").fetchone()[0] is not None:
        row = conn.execute("SELECT format FROM audit_store").fetchone()
        if row is not None:
            _check_version(row[0], where)
            return
    columns = tuple(row[0] for row in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = 'audit_records' ORDER BY ordinal_position"))
    _check_columns(columns, where)


def postgres_table(name: str) -> str:
    """SQL for the table `name` of the first schema on the search path (NULL if it has none): the schema
    the writer creates its tables in. One further along belongs to another log, or another program."""
    return f"to_regclass(quote_ident(current_schema()) || '.{name}')"


def postgres_where(conn) -> str:
    """The log's address for a message: no password."""
    return f"postgresql://{conn.info.host}:{conn.info.port}/{conn.info.dbname}"


def _check_version(version: int, where: str) -> None:
    if version > FORMAT:
        raise UnknownStoreFormat(f"{where} is an audit log of format {version}, written by a newer mlobs; this "
                                 f"version reads formats up to {FORMAT}: upgrade mlobs to read or write it")
    if version < 1:
        raise UnknownStoreFormat(f"{where} is marked as an mlobs audit log of format {version}, which no "
                                 "version of mlobs wrote")


def _check_columns(columns: tuple[str, ...], where: str) -> None:
    if columns and columns[:len(RECORD_COLUMNS)] != RECORD_COLUMNS:
        raise UnknownStoreFormat(f"{where} is not an mlobs audit log: its audit_records table has the columns "
                                 f"{', '.join(columns)}, an mlobs log's begins {', '.join(RECORD_COLUMNS)}")
