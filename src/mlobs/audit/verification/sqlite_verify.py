"""The fast way to check a SQLite chain: a chunk of records at a time, as bytes (nothing decoded),
compared chunk-wide: all the computed hashes against all the stored ones in one comparison, all
the links against the hashes before them in another. A chunk that does not match in every
respect goes to the record-by-record checker, which names the first bad record, so the fast path
only ever says "this chunk is intact".
"""

from __future__ import annotations

import hashlib
import sqlite3

from mlobs.audit.storage import sqlite_readonly
from mlobs.audit.storage.store import SELECT_COLUMNS
from mlobs.audit.verify import Segment, check_segment

CHUNK = 10_000
_ROWS = "SELECT header, payload, hash FROM audit_records WHERE seq BETWEEN ? AND ? ORDER BY seq"


def connect_readonly(path: str) -> sqlite3.Connection:
    conn = sqlite_readonly.connect_readonly(path)
    conn.text_factory = bytes  # records are hashed as stored: never decode what may be tampered
    return conn


def check_range(conn: sqlite3.Connection, lo: int, hi: int, pinned: dict[int, str],
                start_prev: str | None, chunk: int = CHUNK, on_rows=None) -> Segment:
    """As check_segment over the records lo..hi of the open database. on_rows(rows) sees each chunk
    found intact, (header, payload, hash) as bytes, in order (the Merkle tree is hashed from them)."""
    out = Segment(first_prev=start_prev)
    prev = start_prev
    if lo == 1 and conn.execute("SELECT min(seq) < 1 FROM audit_records").fetchone()[0]:
        return _locate(conn, out, 1, hi, pinned, prev, first=-(2**63))  # rows numbered before the genesis
    for first in range(lo, hi + 1, chunk):
        last = min(hi, first + chunk - 1)
        rows = conn.execute(_ROWS, (first, last)).fetchall()
        if not rows:
            break
        if prev is None:  # a range checked on its own: its first link is taken on trust
            prev = out.first_prev = rows[0][0][-66:-2].decode("ascii", "replace")
        head = _intact(rows, first, last, prev, pinned)
        if head is None:
            return _locate(conn, out, first, hi, pinned, prev)
        if on_rows is not None:
            on_rows(rows)
        out.times.scan(first, [row[0] for row in rows])
        out.last_good_checkpoint = max([s for s in pinned if first <= s <= last], default=out.last_good_checkpoint)
        out.count += len(rows)
        prev = head
    out.last_hash = prev if prev is not None else out.last_hash
    return out


def _intact(rows: list[tuple], first: int, last: int, prev: str, pinned: dict[int, str]) -> str | None:
    """The hash of the chunk's last record if records first..last are all there and all check out."""
    if len(rows) != last - first + 1:
        return None
    headers, payloads, stored = zip(*rows)
    sha256 = hashlib.sha256
    digests = "".join([sha256(h + b"\n" + p).hexdigest() for h, p in zip(headers, payloads)]).encode()
    if digests != b"".join(stored):
        return None
    if b"".join([h[-66:-2] for h in headers]) != prev.encode() + digests[:-64]:
        return None
    if not all(map(bytes.startswith, headers, [b"[%d," % s for s in range(first, last + 1)])):
        return None
    for s, pin in pinned.items():
        if first <= s <= last and digests[64 * (s - first) : 64 * (s - first + 1)] != pin.encode():
            return None
    return digests[-64:].decode()


def _locate(conn: sqlite3.Connection, done: Segment, lo: int, hi: int, pinned: dict[int, str], prev: str | None,
            first: int | None = None) -> Segment:
    """Record by record from the chunk that failed (rows from seq `first`, expecting `lo`), with
    the text the slow checker expects."""
    sql = f"SELECT {SELECT_COLUMNS} FROM audit_records WHERE seq >= ? AND seq <= ? ORDER BY seq"
    rows = conn.execute(sql, (lo if first is None else first, hi))
    decoded = ((s, h.decode("utf-8", "replace"), p, x.decode("utf-8", "replace")) for s, h, p, x in rows)
    rest = check_segment(decoded, pinned, lo, prev)
    rest.count += done.count
    rest.first_prev = done.first_prev
    rest.last_good_checkpoint = max(rest.last_good_checkpoint, done.last_good_checkpoint)
    rest.times = done.times.then(rest.times, lo)
    return rest
