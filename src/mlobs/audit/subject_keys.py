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
MERGE_AT = 10_000
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS subject_keys (pseudonym TEXT PRIMARY KEY, key BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS new_subject_keys "
    "(seq INTEGER PRIMARY KEY AUTOINCREMENT, pseudonym TEXT NOT NULL, key BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS key_store_state "
    "(id INTEGER PRIMARY KEY CHECK (id = 0), erasures INTEGER NOT NULL, merged_through INTEGER NOT NULL)",
    "INSERT OR IGNORE INTO key_store_state VALUES (0, 0, 0)",
)
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

    A new key is appended to `new_subject_keys` in the order keys are made, which writes the
    same few pages however many keys exist; every process holds that table in memory, so it
    needs no index. Keys ordered by pseudonym (`subject_keys`) would cost a random page per
    new subject in every durable commit; instead the new ones move there `merge_at` at a time,
    in one sorted pass, off the path of the records waiting for their keys.

    Other processes' changes are read when SQLite's data_version says there are any: their new
    keys incrementally; after an erasure anywhere, every cached key is dropped. Deletion uses
    secure_delete and truncates the WAL so a destroyed key leaves no copy on disk.
    """

    def __init__(self, path: Path, busy_timeout_s: float = 10.0, merge_at: int = MERGE_AT) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False)
        os.chmod(self.path, 0o600)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA secure_delete=ON")
        for statement in _SCHEMA:
            self._conn.execute(statement)
        self._merge_at = merge_at
        self._lock = threading.Lock()
        self._cache: dict[str, bytes] = {}  # keys read from subject_keys
        self._recent: dict[str, bytes] = {}  # every key of new_subject_keys, and some merged since
        self._recent_seq = 0  # the last row of new_subject_keys read into _recent
        self._ciphers: dict[bytes, AESGCM] = {}  # for the keys held in memory: dropped with them
        self._absent: set[str] = set()  # known missing, for this batch only
        self._erasures = self._merged_through = -1
        self._version: int | None = None
        with self._lock:
            self._refresh()

    def _refresh(self) -> None:
        """Catch up with other connections' commits, if there were any (caller holds the lock)."""
        version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        if version == self._version:
            return
        conn = self._conn
        reading = not conn.in_transaction
        if reading:
            conn.execute("BEGIN")  # the state and the rows from one snapshot
        try:
            erasures, merged_through = conn.execute(
                "SELECT erasures, merged_through FROM key_store_state"
            ).fetchone()
            if erasures != self._erasures:  # a key held here may be gone: hold none
                self._forget_cached()
                self._recent.clear()
                self._recent_seq = 0
            elif len(self._recent) > 2 * self._merge_at:  # mostly keys merged since: read the table again
                self._recent.clear()
                self._recent_seq = 0
            self._erasures, self._merged_through = erasures, merged_through
            self._recent_seq = max(self._recent_seq, merged_through)  # the rows up to it have moved
            rows = conn.execute(
                "SELECT seq, pseudonym, key FROM new_subject_keys WHERE seq > ? ORDER BY seq", (self._recent_seq,)
            ).fetchall()
        finally:
            if reading:
                conn.execute("COMMIT")
        for seq, pseudonym, key in rows:
            self._recent[pseudonym] = bytes(key)
            self._recent_seq = seq
        self._version = version

    def _reload(self) -> None:
        """Read everything again at the next refresh: what memory holds may not match the file."""
        self._version, self._erasures = None, -1

    def refresh(self) -> None:
        """Read what other connections changed in the key store since we last looked."""
        with self._lock:
            self._refresh()

    def _held(self, pseudonym: str) -> bytes | None:
        key = self._recent.get(pseudonym)
        return key if key is not None else self._cache.get(pseudonym)

    def get(self, pseudonym: str, refresh: bool = True) -> bytes | None:
        with self._lock:
            if refresh:
                self._refresh()
            key = self._held(pseudonym)
            if key is None:
                if not refresh and pseudonym in self._absent:  # the batch's own view, from its prefetch
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
            missing = [p for p in pseudonyms if p not in self._recent and p not in self._cache]
            found = self._stored(missing)
            for pseudonym, key in found.items():
                self._remember(pseudonym, key)
            self._absent.update(set(missing) - found.keys())

    def _stored(self, pseudonyms: list[str]) -> dict[str, bytes]:
        """The keys of these pseudonyms in subject_keys, one row per query: fetching steps once
        per row, and each step waits for the GIL while the callers run Python."""
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
            if len(self._ciphers) >= _CACHE_LIMIT:
                self._ciphers.clear()
            cipher = self._ciphers[key] = AESGCM(key)
        return cipher

    def begin(self) -> KeyBatch:
        return KeyBatch(self)

    def _commit(self, new: dict[str, bytes], destroyed: set[str], merged_through: int) -> dict[bytes, bytes]:
        """Make one batch durable; returns {our key: the stored key} where another process won a race.
        `merged_through` is the store's state when the batch began, before it looked keys up."""
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                self._refresh()  # under the write lock: every key any process has made
                if destroyed:
                    self._destroy(list(destroyed))
                    self._erasures += 1
                taken = {p: key for p in new if (key := self._recent.get(p)) is not None}
                if self._merged_through != merged_through:  # keys made since our prefetch may have moved
                    taken.update(self._stored([p for p in new if p not in taken]))
                appended = [(p, key) for p, key in new.items() if p not in taken]
                insert_rows(conn, "INSERT INTO new_subject_keys (pseudonym, key) VALUES", appended)
                last = conn.execute("SELECT max(seq) FROM new_subject_keys").fetchone()[0]
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                self._reload()
                raise
            self._recent.update(appended)
            self._recent_seq = max(self._recent_seq, last or 0)
            for pseudonym, key in taken.items():
                self._remember(pseudonym, key)
            self._absent.clear()
            if destroyed:
                # Copy the pages without the keys back into the main file and empty the WAL.
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return {new[p]: key for p, key in taken.items() if key != new[p]}

    def _destroy(self, pseudonyms: list[str]) -> None:
        for chunk in chunks(self._conn, pseudonyms, 1):
            marks = ",".join("?" * len(chunk))
            for table in ("subject_keys", "new_subject_keys"):
                self._conn.execute(f"DELETE FROM {table} WHERE pseudonym IN ({marks})", chunk)
        self._conn.execute("UPDATE key_store_state SET erasures = erasures + 1")
        for pseudonym in pseudonyms:
            for held in (self._recent, self._cache):
                self._ciphers.pop(held.pop(pseudonym, b""), None)

    def merge(self, force: bool = False) -> int:
        """Move the appended keys into subject_keys, once `merge_at` of them wait (any number if
        `force`); returns how many moved. Sorted first, so each page of the tree is written once."""
        with self._lock:
            if not force and self._recent_seq - self._merged_through < self._merge_at:
                return 0
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                self._refresh()
                through = self._recent_seq  # >= merged_through, and every row up to it is in _recent
                moved = conn.execute(
                    "INSERT OR IGNORE INTO subject_keys (pseudonym, key) "
                    "SELECT pseudonym, key FROM new_subject_keys WHERE seq <= ? ORDER BY pseudonym",
                    (through,),
                ).rowcount
                conn.execute("DELETE FROM new_subject_keys WHERE seq <= ?", (through,))
                conn.execute("UPDATE key_store_state SET merged_through = ?", (through,))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                self._reload()
                raise
            self._merged_through = through
            recent, self._recent = self._recent, {}
            for pseudonym, key in recent.items():  # they were the most recent subjects: keep them at hand
                self._remember(pseudonym, key)
            return moved

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
        self._merged_through = store._merged_through
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
        return self._store._commit(self.new, self.destroyed, self._merged_through)
