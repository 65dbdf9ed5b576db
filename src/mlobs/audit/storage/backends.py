"""`open_store(url)`: the backend a store URL names.

Apart from `store`, which the backends import for what they share: importing them from there
would make each backend and the module it builds on import each other.
"""

from __future__ import annotations

from mlobs.audit.storage.store import AuditStore


def open_store(url: str, busy_timeout_s: float = 10.0, store_timeout_s: float = 10.0) -> AuditStore:
    """sqlite:///relative.db, sqlite:////absolute/path.db (as SQLAlchemy), or a libpq postgresql:// URL."""
    if url.startswith("sqlite:///"):
        from mlobs.audit.storage.sqlite_store import SqliteStore

        return SqliteStore(url.removeprefix("sqlite:///"), busy_timeout_s)
    if url.startswith(("postgresql://", "postgres://")):
        from mlobs.audit.storage.postgres_store import PostgresStore

        return PostgresStore(url, store_timeout_s)
    raise ValueError(f"unsupported audit store URL {url!r}: use sqlite:///PATH or postgresql://...")
