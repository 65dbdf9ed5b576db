"""Per-subject AES-GCM keys, kept apart from the audit log; destroying a key is how a subject is forgotten."""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mlobs.audit.background import start_thread
from mlobs.audit.files import OpenFile, private_sqlite
from mlobs.audit.volumes import cannot_open
from mlobs.audit.sqlite_rows import chunks, insert_rows

log = logging.getLogger(__name__)

_CACHE_LIMIT = 200_000
CIPHERS_HELD = 8_192
MERGE_AT = 10_000
_SORTED_SCHEMA = ("CREATE TABLE IF NOT EXISTS subject_keys (pseudonym TEXT PRIMARY KEY, key BLOB NOT NULL)",)
_APPENDED_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS new_subject_keys "
    "(seq INTEGER PRIMARY KEY AUTOINCREMENT, pseudonym TEXT NOT NULL, key BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS key_store_state "
    "(id INTEGER PRIMARY KEY CHECK (id = 0), erasures INTEGER NOT NULL, merged_through INTEGER NOT NULL)",
    "INSERT OR IGNORE INTO key_store_state VALUES (0, 0, 0)",
)


def appended_path(path: Path) -> Path:
    """The file that new keys are appended to, beside the key store's own."""
    return path.with_name(f"{path.stem}-appended{path.suffix}")


def _connect(path: Path, schema: tuple[str, ...], timeout: float) -> sqlite3.Connection:
    private_sqlite(path)
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
    try:
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "secure_delete=ON"):
            conn.execute(f"PRAGMA {pragma}")
        for statement in schema:
            conn.execute(statement)
    except BaseException:
        conn.close()
        raise
    return conn


class SubjectKeyStore:
    """pseudonym -> 256-bit key, in two SQLite files kept apart from the audit log. The same rows
    hold each subject's erasable mapping ("map:" + HMAC of the raw id -> 32 random bytes, the
    pseudonym's bytes: see subject_map), so a mapping is made, kept and destroyed as a key is.

    A new key is appended to `new_subject_keys` (its own file) in the order keys are made,
    which writes the same few pages however many keys exist; every process holds that table in
    memory, so it needs no index. Keys ordered by pseudonym (`subject_keys`) would cost a
    random page per new subject in every durable commit; instead the appended ones move there
    many at a time (`_merge_due`), in one sorted pass, on a thread of their own. The two tables
    are in two files so that the move never holds up the commits of new keys.

    Other processes' changes are read when SQLite's data_version says there are any: their new
    keys incrementally; after an erasure anywhere, every key held here is dropped. Deletion uses
    secure_delete and truncates the WAL so a destroyed key leaves no copy on disk.
    """

    def __init__(self, path: Path, busy_timeout_s: float = 10.0, merge_at: int = MERGE_AT) -> None:
        self.path = Path(path)
        self.appended_path = appended_path(self.path)
        self._timeout = busy_timeout_s
        self._sorted = self._open(self.path, _SORTED_SCHEMA)
        try:
            self._appended = self._open(self.appended_path, _APPENDED_SCHEMA)
        except BaseException:
            self._sorted.close()  # a failed open holds nothing open
            raise
        # The files the keys of this process's records are in: a key committed into a file deleted or
        # moved meanwhile is gone at the next start, and with it the record's personal fields.
        self._files = (OpenFile(self.path), OpenFile(self.appended_path))
        self._merge_at = merge_at
        self._lock = threading.Lock()  # the two connections above and everything held in memory
        self._cache: dict[str, bytes] = {}  # keys read from subject_keys
        self._recent: dict[str, bytes] = {}  # every key of new_subject_keys, and some moved since
        self._recent_seq = 0  # the last row of new_subject_keys read into _recent
        self._ciphers: dict[bytes, AESGCM] = {}  # for the keys held in memory: dropped with them
        self._absent: set[str] = set()  # known missing, for this batch only
        self._erasures = self._merged_through = -1
        self._version: int | None = None
        self._merge_lock = threading.Lock()  # the merging connection
        self._merge_conn: sqlite3.Connection | None = None
        self._merge_wanted = threading.Event()
        self._merger: threading.Thread | None = None
        self._closing = False
        with self._lock:
            self._refresh()

    def _open(self, path: Path, schema: tuple[str, ...]) -> sqlite3.Connection:
        try:
            return _connect(path, schema, self._timeout)
        except (sqlite3.OperationalError, OSError) as exc:
            raise cannot_open(path, exc) from exc

    def check_open(self) -> None:
        """AuditUnavailable unless both files are still the ones this store opened."""
        for file in self._files:
            file.check()

    def _refresh(self) -> None:
        """Catch up with other connections' commits, if there were any (caller holds the lock)."""
        conn = self._appended
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        if version == self._version:
            return
        reading = not conn.in_transaction
        if reading:
            conn.execute("BEGIN")  # the state and the rows from one snapshot
        try:
            erasures, merged_through = conn.execute("SELECT erasures, merged_through FROM key_store_state").fetchone()
            if erasures != self._erasures:  # a key held here may be gone: hold none
                self._forget_cached()
            elif merged_through != self._merged_through:  # moved: held on as cached keys
                for pseudonym, key in self._recent.items():
                    self._remember(pseudonym, key)
            if (erasures, merged_through) != (self._erasures, self._merged_through):
                self._recent.clear()
                self._recent_seq = merged_through  # every row still appended, read again
            self._erasures, self._merged_through = erasures, merged_through
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
        """Read everything again at the next refresh: what memory holds may not match the files."""
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
                row = self._sorted.execute("SELECT key FROM subject_keys WHERE pseudonym = ?", (pseudonym,)).fetchone()
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
        for chunk in chunks(self._sorted, pseudonyms, 1):
            marks = ",".join("?" * len(chunk))
            (keys,) = self._sorted.execute(
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
        """The AES-GCM object of a key from this store. Making one costs about two encryptions and
        each holds 2.5 KB: 8,192 are kept, the oldest making room (a new subject in every decision
        filled the cache of keys' size, 200,000 of them, with 500 MB)."""
        cipher = self._ciphers.get(key)
        if cipher is None:
            cipher = AESGCM(key)
            with self._lock:  # other threads' refreshes and erasures drop ciphers too
                if len(self._ciphers) >= CIPHERS_HELD:
                    del self._ciphers[next(iter(self._ciphers))]
                self._ciphers[key] = cipher
        return cipher

    def begin(self) -> KeyBatch:
        return KeyBatch(self)

    def _commit(self, new: dict[str, bytes], destroyed: set[str], merged_through: int) -> dict[bytes, bytes]:
        """Make one batch durable; returns {our key: the stored key} where another process won a race.
        `merged_through` is the store's state when the batch began, before it looked keys up."""
        with self._lock:
            conn, sorted_ = self._appended, self._sorted
            conn.execute("BEGIN IMMEDIATE")
            try:
                self._refresh()  # under the write lock: every key any process has made
                if destroyed:
                    sorted_.execute("BEGIN IMMEDIATE")  # committed last: see _destroy
                    self._destroy(list(destroyed))
                taken = {p: key for p in new if (key := self._recent.get(p)) is not None}
                if self._merged_through != merged_through:  # keys made since our prefetch may have moved
                    taken.update(self._stored([p for p in new if p not in taken]))
                appended = [(p, key) for p, key in new.items() if p not in taken]
                insert_rows(conn, "INSERT INTO new_subject_keys (pseudonym, key) VALUES", appended)
                last = conn.execute("SELECT max(seq) FROM new_subject_keys").fetchone()[0]
                conn.execute("COMMIT")
                if sorted_.in_transaction:
                    sorted_.execute("COMMIT")
            except BaseException:
                for c in (conn, sorted_):
                    if c.in_transaction:
                        c.execute("ROLLBACK")
                self._reload()
                raise
            if destroyed:
                self._erasures += 1
                for c in (sorted_, conn):  # copy the pages without the keys back and empty the WALs
                    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._recent.update(appended)
            self._recent_seq = max(self._recent_seq, last or 0)
            for pseudonym, key in taken.items():
                self._remember(pseudonym, key)
            self._absent.clear()
            due = self._merge_due()
        if due:
            self._wake_merger()
        return {new[p]: key for p, key in taken.items() if key != new[p]}

    def _destroy(self, pseudonyms: list[str]) -> None:
        """Delete the keys from both files, in a transaction on each. The sorted file's is taken
        first and committed last: a merge in progress finishes first (and the key is deleted
        where it landed), and a merge that starts later reads the appended file without it."""
        for chunk in chunks(self._sorted, pseudonyms, 1):
            marks = ",".join("?" * len(chunk))
            self._sorted.execute(f"DELETE FROM subject_keys WHERE pseudonym IN ({marks})", chunk)
            self._appended.execute(f"DELETE FROM new_subject_keys WHERE pseudonym IN ({marks})", chunk)
        self._appended.execute("UPDATE key_store_state SET erasures = erasures + 1")
        for pseudonym in pseudonyms:
            for held in (self._recent, self._cache):
                self._ciphers.pop(held.pop(pseudonym, b""), None)

    def _merge_due(self) -> bool:
        """merge_at keys waiting, or as many as the sorted file has pages if that is more (up to
        ten times merge_at): a merge writes about every page of the tree, so moving fewer keys
        than there are pages costs a page a key, as inserting them one by one would have."""
        waiting = self._recent_seq - self._merged_through
        if waiting < self._merge_at:
            return False
        pages = self._sorted.execute("PRAGMA page_count").fetchone()[0]
        return waiting >= min(pages, 10 * self._merge_at)

    def _wake_merger(self) -> None:
        with self._merge_lock:
            if self._closing:
                return
            if self._merger is None:
                self._merger = start_thread(self._merge_loop, "mlobs-audit-keys")
        self._merge_wanted.set()

    def _merge_loop(self) -> None:
        while True:
            self._merge_wanted.wait()
            self._merge_wanted.clear()
            if self._closing:
                return
            with self._lock:  # woken again during the last move: perhaps only a few more keys since
                self._refresh()
                if not self._merge_due():
                    continue
            try:
                self.merge()
            except Exception as exc:  # the keys stay appended, and are still found there
                log.error("audit: subject keys not merged: %s: %s", type(exc).__name__, exc)

    def merge(self) -> int:
        """Move every appended key into subject_keys, sorted so that each page of the tree is
        written once; returns how many moved. The merging thread calls it when one is due."""
        with self._merge_lock:
            if self._merge_conn is None:
                self._merge_conn = _connect(self.path, (), self._timeout)
                self._merge_conn.execute("ATTACH DATABASE ? AS appended", (str(self.appended_path),))
                for pragma in ("synchronous=FULL", "secure_delete=ON"):
                    self._merge_conn.execute(f"PRAGMA appended.{pragma}")
            conn = self._merge_conn
            # A deferred transaction locks only the file it writes. The statement takes the sorted
            # file's write lock before it reads the appended one: an erasure committed after that
            # read waits for this commit, then deletes the key where it has moved.
            conn.execute("BEGIN")
            try:
                moved = conn.execute(
                    "INSERT OR IGNORE INTO main.subject_keys (pseudonym, key) "
                    "SELECT pseudonym, key FROM appended.new_subject_keys ORDER BY pseudonym"
                ).rowcount
                (through,) = conn.execute("SELECT coalesce(max(seq), 0) FROM appended.new_subject_keys").fetchone()
                conn.execute("COMMIT")
                conn.execute("BEGIN")
                conn.execute("DELETE FROM appended.new_subject_keys WHERE seq <= ?", (through,))
                conn.execute(
                    "UPDATE appended.key_store_state SET merged_through = max(merged_through, ?)", (through,)
                )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return moved

    def close(self) -> None:
        with self._merge_lock:
            self._closing = True
            merger = self._merger
        self._merge_wanted.set()
        if merger is not None:
            merger.join(self._timeout)
        with self._merge_lock:
            if self._merge_conn is not None:
                self._merge_conn.close()
        with self._lock:
            self._sorted.close()
            self._appended.close()


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

    def key_for(self, pseudonym: str, made_here: bool = False) -> bytes:
        """The key of `pseudonym`, made if it has none. made_here: the pseudonym was drawn in this
        batch (a new subject's mapping), so no store can hold a key for it: none is looked up."""
        key = self.new.get(pseudonym)
        if key is not None:
            return key
        if not made_here and pseudonym not in self.destroyed:
            key = self._store.get(pseudonym, refresh=False)
            if key is not None:
                return key
        key = AESGCM.generate_key(bit_length=256)
        self.new[pseudonym] = key
        return key

    def peek(self, pseudonym: str) -> bytes | None:
        """The key this batch would use, without making one."""
        if pseudonym in self.new:
            return self.new[pseudonym]
        if pseudonym in self.destroyed:
            return None
        return self._store.get(pseudonym, refresh=False)

    def destroy(self, pseudonym: str) -> None:
        self.new.pop(pseudonym, None)
        self.destroyed.add(pseudonym)

    def commit(self) -> dict[bytes, bytes]:
        """Make the batch's new keys and erasures durable. Checks first that the key store is still the
        files it opened, whether the batch made keys or not: its records' keys are there."""
        self._store.check_open()
        if not self.new and not self.destroyed:
            return {}
        return self._store._commit(self.new, self.destroyed, self._merged_through)
