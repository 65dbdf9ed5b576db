"""Per-subject AES-GCM keys in their own database; destroying a key is how a subject is forgotten."""

from __future__ import annotations

import base64
import binascii
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mlobs.audit.sqlite_rows import chunks, insert_rows

_CACHE_LIMIT = 200_000
_b64 = binascii.b2a_base64  # base64.b64encode without its wrapper: called twice per record


def encrypt(key: bytes | AESGCM, value: Any, aad: bytes, nonce: bytes | None = None) -> dict[str, str]:
    """AES-256-GCM of a JSON value, bound to its record by the associated data.
    A nonce, if given, must be 12 fresh random bytes (callers draw many at once)."""
    nonce = nonce or os.urandom(12)
    cipher = key if isinstance(key, AESGCM) else AESGCM(key)
    ct = cipher.encrypt(nonce, orjson.dumps(value), aad)
    return {"nonce": _b64(nonce, newline=False).decode(), "ct": _b64(ct, newline=False).decode()}


def decrypt(key: bytes, box: dict[str, str], aad: bytes) -> Any:
    nonce = base64.b64decode(box["nonce"])
    return orjson.loads(AESGCM(key).decrypt(nonce, base64.b64decode(box["ct"]), aad))


class SubjectKeyStore:
    """pseudonym -> 256-bit key, in a SQLite file kept apart from the audit log.

    Keys are cached in memory; the cache is dropped whenever another connection (another
    process, the CLI's forget) changed the file, which SQLite's data_version reports cheaply.
    Deletion uses secure_delete and truncates the WAL so a destroyed key leaves no copy on disk.
    """

    def __init__(self, path: Path, busy_timeout_s: float = 10.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False)
        os.chmod(self.path, 0o600)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA secure_delete=ON")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS subject_keys (pseudonym TEXT PRIMARY KEY, key BLOB NOT NULL)"
        )
        self._lock = threading.Lock()
        self._cache: dict[str, bytes] = {}
        self._ciphers: dict[bytes, AESGCM] = {}  # for the cached keys only: dropped with them
        self._absent: set[str] = set()  # known missing, for this batch only
        self._version = self._data_version()

    def _data_version(self) -> int:
        return self._conn.execute("PRAGMA data_version").fetchone()[0]

    def _refresh(self) -> None:
        version = self._data_version()
        if version != self._version:
            self._forget_cached()
            self._version = version

    def refresh(self) -> None:
        """Drop the cache if another connection changed the key store since we last looked."""
        with self._lock:
            self._refresh()

    def get(self, pseudonym: str, refresh: bool = True) -> bytes | None:
        with self._lock:
            if refresh:
                self._refresh()
            key = self._cache.get(pseudonym)
            if key is None:
                if pseudonym in self._absent:
                    return None
                row = self._conn.execute("SELECT key FROM subject_keys WHERE pseudonym = ?", (pseudonym,)).fetchone()
                if row is None:
                    return None
                key = bytes(row[0])
                self._remember(pseudonym, key)
            return key

    def prefetch(self, pseudonyms: set[str]) -> None:
        """Load every uncached key of a batch in a few queries instead of one per record."""
        with self._lock:
            missing = [p for p in pseudonyms if p not in self._cache]
            found = self._stored(missing)
            for pseudonym, key in found.items():
                self._remember(pseudonym, key)
            self._absent.update(set(missing) - found.keys())

    def _stored(self, pseudonyms: list[str]) -> dict[str, bytes]:
        """The stored keys of these pseudonyms, one row per query: fetching steps once per row,
        and each step waits for the GIL while the callers run Python."""
        found: dict[str, bytes] = {}
        for chunk in chunks(self._conn, pseudonyms, 1):
            marks = ",".join("?" * len(chunk))
            (keys,) = self._conn.execute(
                f"SELECT json_group_object(pseudonym, hex(key)) FROM subject_keys WHERE pseudonym IN ({marks})", chunk
            ).fetchone()
            found.update((pseudonym, bytes.fromhex(key)) for pseudonym, key in orjson.loads(keys).items())
        return found

    def _remember(self, pseudonym: str, key: bytes) -> None:
        if len(self._cache) >= _CACHE_LIMIT:
            self._forget_cached()
        self._cache[pseudonym] = key

    def _forget_cached(self) -> None:
        self._cache.clear()
        self._ciphers.clear()

    def cipher(self, key: bytes) -> AESGCM:
        """The AES-GCM object of a key from this store: making one costs about as much as an encryption."""
        cipher = self._ciphers.get(key)
        if cipher is None:
            cipher = self._ciphers[key] = AESGCM(key)
        return cipher

    def begin(self) -> KeyBatch:
        return KeyBatch(self)

    def _commit(self, new: dict[str, bytes], destroyed: set[str]) -> dict[bytes, bytes]:
        """Make one batch durable; returns {our key: the stored key} where another process won a race."""
        replaced: dict[bytes, bytes] = {}
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                if destroyed:
                    conn.executemany("DELETE FROM subject_keys WHERE pseudonym = ?", [(p,) for p in destroyed])
                if new:
                    before = conn.total_changes
                    insert_rows(conn, "INSERT OR IGNORE INTO subject_keys (pseudonym, key) VALUES", list(new.items()))
                    if conn.total_changes - before < len(new):  # another process stored some of them first
                        stored = self._stored(list(new))
                        replaced = {new[p]: key for p, key in stored.items() if key != new[p]}
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            for pseudonym in destroyed:
                self._ciphers.pop(self._cache.pop(pseudonym, b""), None)
            for pseudonym, key in new.items():
                self._remember(pseudonym, replaced.get(key, key))
            self._version = self._data_version()
            if destroyed:
                # Copy the pages without the keys back into the main file and empty the WAL.
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return replaced

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class KeyBatch:
    """Key decisions for one group commit, applied in order: a key destroyed mid-batch
    is never written, and a later record of the same subject gets a fresh key."""

    def __init__(self, store: SubjectKeyStore) -> None:
        store.refresh()  # once per batch, not once per record
        store._absent.clear()
        self._store = store
        self.new: dict[str, bytes] = {}
        self.destroyed: set[str] = set()

    def prefetch(self, pseudonyms: set[str]) -> None:
        self._store.prefetch(pseudonyms - self.destroyed)

    def key_for(self, pseudonym: str) -> bytes:
        key = self.new.get(pseudonym)
        if key is not None:
            return key
        if pseudonym not in self.destroyed:
            key = self._store.get(pseudonym, refresh=False)
            if key is not None:
                return key
        key = AESGCM.generate_key(bit_length=256)
        self.new[pseudonym] = key
        return key

    def destroy(self, pseudonym: str) -> None:
        self.new.pop(pseudonym, None)
        self.destroyed.add(pseudonym)

    def commit(self) -> dict[bytes, bytes]:
        if not self.new and not self.destroyed:
            return {}
        return self._store._commit(self.new, self.destroyed)
