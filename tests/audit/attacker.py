"""What an attacker with direct file or database access does: bypass the triggers and edit rows."""

from __future__ import annotations

import shutil
import sqlite3

import orjson

from mlobs.audit.record import GENESIS_HASH, header_text, record_hash


def _is_sqlite(url: str) -> bool:
    return url.startswith("sqlite:///")


def run(url: str, statements: list[tuple[str, tuple]]) -> None:
    """Run SQL (with ? placeholders) on the audit tables with the append-only triggers out of the way."""
    if _is_sqlite(url):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")]
        for name in names:
            conn.execute(f"DROP TRIGGER {name}")
        for sql, params in statements:
            conn.execute(sql, params)
        conn.close()
        return
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")  # superuser: triggers do not fire
        for sql, params in statements:
            conn.execute(sql.replace("?", "%s"), params)


def rows(url: str) -> list[list]:
    """(seq, header, payload, hash) of every record."""
    sql = "SELECT seq, header, payload, hash FROM audit_records ORDER BY seq"
    if _is_sqlite(url):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        out = [list(r) for r in conn.execute(sql)]
        conn.close()
        return out
    import psycopg

    with psycopg.connect(url) as conn:
        return [list(r) for r in conn.execute(sql)]


def rewrite_from(url: str, first_seq: int, outcome: str) -> None:
    """Change every record from first_seq on and recompute a consistent chain over them."""
    statements = []
    prev = GENESIS_HASH
    for seq, header, payload, hash_ in rows(url):
        if seq >= first_seq:
            fields = orjson.loads(header)
            fields[11], fields[12] = outcome, prev
            header = header_text(fields)
            hash_ = record_hash(header, bytes(payload))
            statements.append(("UPDATE audit_records SET header = ?, hash = ? WHERE seq = ?", (header, hash_, seq)))
        prev = hash_
    run(url, statements)


def forged_record(url: str, seq: int, prev_hash: str) -> tuple:
    """A record that is internally consistent: right prev_hash and right own hash."""
    ts = orjson.loads(rows(url)[0][1])[4]
    header = header_text(
        [seq, 1, "decision", "forged", ts, "credit", "gbm", "3", None, None, None, "approve", prev_hash]
    )
    payload = b'{"output":"forged"}'
    return (seq, header, payload, record_hash(header, payload))


def delete_directory(directory) -> None:
    """The directory and every file in it removed, whatever has them open."""
    shutil.rmtree(directory)


def replace_with_a_copy(directory) -> None:
    """Moved aside, and a copy put in its place: the path names other files than the ones open."""
    shutil.move(directory, f"{directory}.moved")
    shutil.copytree(f"{directory}.moved", directory)
