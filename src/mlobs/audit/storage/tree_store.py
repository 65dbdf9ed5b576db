"""Where the Merkle tree lives in a store, and how it is read back.

A leaf is SHA-256(0x00 || header || "\\n" || payload) of its record. Interior nodes are stored only
at every STRIDE-th level (4, 8, 12, ...), for complete subtrees, as they complete: about one row per
15 records, written in the commit of the records that complete them; a level-4 row also keeps its
16 leaf hashes, so that a verifier can name the first record that differs from a signed tree.
Any other perfect subtree is hashed from at most 2**(STRIDE-1) nodes one
stored level below it (or records), read in one range query, so an inclusion proof at 1,000,000
records is a few dozen indexed reads.

Signed checkpoints (C2SP notes) are kept beside the tree, one per signed size.
"""

from __future__ import annotations

from typing import Callable, Iterable

from mlobs.audit.merkle import leaf_hash, node_hash
from mlobs.audit.record import entry  # noqa: F401 (re-exported: the storage modules take it from here)

STRIDE = 4
LEVEL_SHIFT = 56  # node id = level << 56 | index: one integer key, ordered by level then index

SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_tree (
    id INTEGER PRIMARY KEY,
    hash BLOB NOT NULL,
    leaves BLOB
);
CREATE TABLE IF NOT EXISTS audit_tree_heads (
    size INTEGER PRIMARY KEY,
    note TEXT NOT NULL
);
"""
POSTGRES_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_tree (
    id BIGINT PRIMARY KEY,
    hash BYTEA NOT NULL,
    leaves BYTEA
);
CREATE TABLE IF NOT EXISTS audit_tree_heads (
    size BIGINT PRIMARY KEY,
    note TEXT NOT NULL
);
"""
TABLES = ("audit_tree", "audit_tree_heads")


class TreeMissing(LookupError):
    """A node or record the tree needs is not in the store."""


def node_id(level: int, index: int) -> int:
    return (level << LEVEL_SHIFT) | index


def stored_level(level: int) -> bool:
    return level > 0 and level % STRIDE == 0


def insert_sqlite(conn, nodes: list[tuple], note: tuple[int, str] | None) -> None:
    """In the commit's transaction: new stored nodes (id, hash, leaves) and the checkpoint, if any."""
    from mlobs.audit.sqlite_rows import insert_rows

    if nodes:
        insert_rows(conn, "INSERT OR IGNORE INTO audit_tree (id, hash, leaves) VALUES", nodes)
    if note is not None:
        conn.execute("INSERT OR IGNORE INTO audit_tree_heads (size, note) VALUES (?, ?)", note)


def insert_postgres(cur, nodes: list[tuple], note: tuple[int, str] | None) -> None:
    if nodes:
        cur.executemany("INSERT INTO audit_tree (id, hash, leaves) VALUES (%s, %s, %s) ON CONFLICT (id) DO NOTHING",
                        nodes)
    if note is not None:
        cur.execute("INSERT INTO audit_tree_heads (size, note) VALUES (%s, %s) ON CONFLICT (size) DO NOTHING", note)


class TreeReader:
    """Reads the tree of one store through `query(sql, params) -> rows` (with ? placeholders).
    `overlay` holds nodes not yet committed, {(level, index): hash}, consulted first."""

    def __init__(self, query: Callable[[str, tuple], list], overlay: dict | None = None) -> None:
        self._query = query
        self.overlay = overlay if overlay is not None else {}

    # -- records and checkpoints ---------------------------------------------------------------

    def head(self) -> tuple[int, str | None]:
        rows = self._query("SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1", ())
        return (rows[0][0], _text(rows[0][1])) if rows else (0, None)

    def record_hash(self, seq: int) -> str | None:
        rows = self._query("SELECT hash FROM audit_records WHERE seq = ?", (seq,))
        return _text(rows[0][0]) if rows else None

    def records(self, first: int, last: int) -> list[tuple]:
        """(seq, header, payload, hash) for seq first..last, in order."""
        return self._query("SELECT seq, header, payload, hash FROM audit_records WHERE seq BETWEEN ? AND ? "
                           "ORDER BY seq", (first, last))

    def leaves(self, first_index: int, count: int) -> list[bytes]:
        rows = self._query("SELECT seq, header, payload FROM audit_records WHERE seq BETWEEN ? AND ? ORDER BY seq",
                           (first_index + 1, first_index + count))
        if len(rows) != count or (rows and rows[0][0] != first_index + 1):
            raise TreeMissing(f"records {first_index + 1}..{first_index + count} are not all in the log")
        return [leaf_hash(entry(h, p)) for _, h, p in rows]

    def notes(self, since: int = 0) -> list[tuple[int, str]]:
        return [(s, _text(n)) for s, n in
                self._query("SELECT size, note FROM audit_tree_heads WHERE size >= ? ORDER BY size", (since,))]

    def latest_note(self) -> tuple[int, str] | None:
        rows = self._query("SELECT size, note FROM audit_tree_heads ORDER BY size DESC LIMIT 1", ())
        return (rows[0][0], _text(rows[0][1])) if rows else None

    def note_covering(self, size: int) -> tuple[int, str] | None:
        """The first checkpoint whose tree holds `size` leaves or more."""
        rows = self._query("SELECT size, note FROM audit_tree_heads WHERE size >= ? ORDER BY size LIMIT 1", (size,))
        return (rows[0][0], _text(rows[0][1])) if rows else None

    def node_count(self) -> int:
        return self._query("SELECT count(*) FROM audit_tree", ())[0][0]

    # -- subtrees ------------------------------------------------------------------------------

    def _stored(self, level: int, first: int, count: int) -> list[bytes]:
        rows = self._query("SELECT hash FROM audit_tree WHERE id BETWEEN ? AND ? ORDER BY id",
                           (node_id(level, first), node_id(level, first + count - 1)))
        if len(rows) != count:
            raise TreeMissing(f"tree nodes at level {level} from {first} ({count}) are not all stored")
        return [bytes(r[0]) for r in rows]

    def _kept_leaves(self, first: int, count: int) -> list[bytes] | None:
        """Leaf hashes kept with their level-4 node (a complete block of 16), if any."""
        rows = self._query("SELECT leaves FROM audit_tree WHERE id = ?", (node_id(STRIDE, first >> STRIDE),))
        if not rows or rows[0][0] is None:
            return None
        blob, lo = bytes(rows[0][0]), first & ((1 << STRIDE) - 1)
        return [blob[32 * i : 32 * i + 32] for i in range(lo, lo + count)]

    def kept_leaves(self, blocks: int) -> list[bytes] | None:
        """The leaf hashes kept for the first `blocks` blocks of 16, or None if any is missing."""
        if blocks == 0:
            return []
        rows = self._query("SELECT leaves FROM audit_tree WHERE id BETWEEN ? AND ? ORDER BY id",
                           (node_id(STRIDE, 0), node_id(STRIDE, blocks - 1)))
        if len(rows) != blocks or any(r[0] is None or len(r[0]) != 32 << STRIDE for r in rows):
            return None
        blob = b"".join(bytes(r[0]) for r in rows)
        return [blob[i : i + 32] for i in range(0, len(blob), 32)]

    def subtree(self, level: int, index: int) -> bytes:
        """The hash of the perfect subtree (level, index)."""
        got = self.overlay.get((level, index))
        if got is not None:
            return got
        base = level - level % STRIDE
        count = 1 << (level - base)
        first = index << (level - base)
        row: list = [self.overlay.get((base, first + i)) for i in range(count)]
        if any(h is None for h in row):
            read = (self._kept_leaves(first, count) or self.leaves(first, count)) if base == 0 else \
                self._stored(base, first, count)
            row = [h if h is not None else r for h, r in zip(row, read)]
        while len(row) > 1:
            row = [node_hash(a, b) for a, b in zip(row[0::2], row[1::2])]
        return row[0]


def stored_nodes(completed: Iterable[tuple[int, int, bytes]], leaves: list[bytes] = (),
                 first_leaf: int = 0) -> list[tuple[int, bytes, bytes | None]]:
    """The nodes of a commit that the store keeps, as (id, hash, leaves) rows; `leaves` are the leaf
    hashes from index `first_leaf` on, for the level-4 nodes' blocks."""
    out = []
    for level, index, h in completed:
        if level % STRIDE or not level:
            continue
        kept = None
        if level == STRIDE:
            lo = (index << STRIDE) - first_leaf
            if lo >= 0 and lo + (1 << STRIDE) <= len(leaves):
                kept = b"".join(leaves[lo : lo + (1 << STRIDE)])
        out.append((node_id(level, index), h, kept))
    return out


def _text(value) -> str:
    return value.decode() if isinstance(value, (bytes, memoryview)) else value


def sqlite_query(conn) -> Callable[[str, tuple], list]:
    return lambda sql, params: conn.execute(sql, params).fetchall()


def postgres_query(conn) -> Callable[[str, tuple], list]:
    return lambda sql, params: conn.execute(sql.replace("?", "%s"), params).fetchall()


def rotation_records(reader: TreeReader, sqlite: bool, after: int = 0, limit: int = -1) -> list[tuple]:
    """(seq, header, payload) of the key rotation records past seq `after`, by seq (at most `limit`). The
    condition is written as the partial index of rotations states it, so that the index serves it."""
    from mlobs.audit.keys.key_rotation import EVENT_KEY_ROTATION

    column = "json_extract(header, '$[2]')" if sqlite else "event_type"
    return reader._query(f"SELECT seq, header, payload FROM audit_records WHERE {column} = '{EVENT_KEY_ROTATION}' "
                         "AND seq > ? ORDER BY seq" + (" LIMIT ?" if limit >= 0 else ""),
                         (after, limit) if limit >= 0 else (after,))


def open_reader(url: str, readonly: bool = True, timeout_s: float = 10.0):
    """(TreeReader, close) on a connection of its own to the store at `url` (PostgreSQL: each exchange
    within `timeout_s`, a connection dropped for want of an answer replaced at the next query)."""
    if url.startswith("sqlite:///"):
        import sqlite3

        path = url.removeprefix("sqlite:///")
        if readonly:
            from mlobs.audit.storage.sqlite_readonly import connect_readonly

            conn = connect_readonly(path)
            conn.text_factory = str
        else:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        return TreeReader(sqlite_query(conn)), conn.close
    from mlobs.audit.storage.pg_bounded import Session

    session = Session(url, timeout_s, readonly=readonly)
    session.conn()  # connect now: a store that cannot be reached fails here, as SQLite's does
    return TreeReader(lambda sql, params: postgres_query(session.conn())(sql, params)), session.close
