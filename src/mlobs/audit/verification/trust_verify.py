"""`mlobs audit verify`: check a log with the verifier's own trust, reading it and nothing else.

The log is opened read-only (nothing is created, migrated or signed). Checked, with the key the
verifier brings (never the one beside the log):
- the hash chain, record by record, against every signed chain checkpoint;
- every signed tree head (C2SP checkpoint) against the RFC 9162 root of the records it counts;
- against a witness's cosigned checkpoints: a witness that saw a larger tree than the log holds
  (rollback, truncation), a root the log's records do not give (rewritten history, split view),
  checkpoints the log no longer has (deleted);
- that no record lies beyond the last signed head (a forged append), unless the log is live;
- every record's canonical column types, and the raw store against the records (row_checks:
  the same checks `AuditLog.verify()` runs), on a read-only connection of their own while the
  chain is checked.
"""

from __future__ import annotations

import os
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from mlobs.audit.storage import row_checks
from mlobs.audit.checkpoint_note import (
    NoteError,
    TreeHead,
    fingerprint,
    open_checkpoint,
    verify_cosignature,
)
from mlobs.audit.merkle import CompactRange
from mlobs.audit.record import GENESIS_HASH, format_ts
from mlobs.audit.storage.row_checks import RowSource
from mlobs.audit.storage.sqlite_readonly import connect_readonly
from mlobs.audit.storage.store_format import UnknownStoreFormat, check_postgres, check_sqlite, postgres_table
from mlobs.audit.keys.signing import Checkpoint, key_id_of
from mlobs.audit.storage.tree_store import (
    STRIDE,
    TreeMissing,
    TreeReader,
    postgres_query,
    sqlite_query,
)
from mlobs.audit.verification.parallel_verify import checked_workers
from mlobs.audit.verification.tree_verify import first_mismatch, verify_in_one_read

from mlobs.audit.verify import Problem, VerifyReport, _report, check_signatures, finish

CHUNK = 10_000


class LogMissing(Exception):
    """No log where one was expected."""


@dataclass
class Witnessed:
    """Checkpoints a witness kept (note texts), and the key its cosignatures must verify with."""

    notes: list[str]
    source: str
    public_key: Ed25519PublicKey | None = None


@dataclass
class LogView:
    """A read-only connection to a store, through which everything is read."""

    url: str
    reader: TreeReader
    close: callable
    checkpoints: list[Checkpoint] = field(default_factory=list)


def resolve_url(path: str | Path | None, default_url: str | None) -> str:
    """A PATH argument as a store URL: a postgresql:// URL, a SQLite file, or a directory holding audit.db."""
    if path is None:
        if default_url is None:
            raise LogMissing("no audit log given and none configured (MLOBS_AUDIT__STORE_URL)")
        return default_url
    text = str(path)
    if text.startswith(("postgresql://", "postgres://", "sqlite:///")):
        return text
    p = Path(text)
    if p.is_dir():
        p = p / "audit.db"
    return f"sqlite:///{p}"


def open_view(url: str, connect_timeout_s: float = 10.0) -> LogView:
    """Open the store read-only; LogMissing if there is no log there. Creates nothing. PostgreSQL:
    connected within `connect_timeout_s`, each exchange after within VERIFY_TIMEOUT_S."""
    if url.startswith("sqlite:///"):
        import sqlite3

        path = Path(url.removeprefix("sqlite:///"))
        if not path.is_file():
            raise LogMissing(f"no audit log at {path}")
        conn = connect_readonly(path)
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            check_sqlite(conn, str(path))
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise LogMissing(f"{path} is not a readable audit log: {exc}") from None
        except UnknownStoreFormat:
            conn.close()
            raise
        if "audit_records" not in tables:
            conn.close()
            raise LogMissing(f"{path} holds no audit log (no audit_records table)")
        query = sqlite_query(conn)
    else:
        import psycopg

        from mlobs.audit.storage.pg_bounded import VERIFY_TIMEOUT_S, connect
        from mlobs.pg_connect import READ_ONLY

        try:
            conn = connect(url, VERIFY_TIMEOUT_S, connect_timeout_s=connect_timeout_s, settings=READ_ONLY)
        except psycopg.Error as exc:
            raise LogMissing(f"cannot reach the audit log at {_redact(url)}: {exc}") from None
        # Only the first schema on the search path: the one the writer creates its tables in. A log
        # found further along is another log (a shared schema after this log's own).
        if conn.execute(f"SELECT {postgres_table('audit_records')}").fetchone()[0] is None:
            schema = conn.execute("SELECT current_schema()").fetchone()[0]
            conn.close()
            raise LogMissing(f"{_redact(url)} holds no audit log (no audit_records table in the schema {schema})")
        try:
            check_postgres(conn, _redact(url))
        except UnknownStoreFormat:
            conn.close()
            raise
        query = postgres_query(conn)
        tables = {"audit_checkpoints", "audit_tree_heads"} if conn.execute(
            f"SELECT {postgres_table('audit_tree_heads')}").fetchone()[0] else {"audit_checkpoints"}
    view = LogView(url, TreeReader(query), conn.close)
    if "audit_checkpoints" in tables:
        view.checkpoints = [Checkpoint(*row) for row in
                            query("SELECT seq, hash, ts, key_id, signature FROM audit_checkpoints ORDER BY seq", ())]
    if "audit_tree_heads" not in tables:
        view.reader.notes = lambda since=0: []  # a log made before it had a tree
    return view


def verify_log(url: str, public: Ed25519PublicKey, *, witness: Witnessed | None = None, allow_empty: bool = False,
               allow_unsigned_tail: bool = False, workers: int | None = None, raw_retention_days: float = 7.0,
               now: datetime | None = None, extra_checkpoints: list[Checkpoint] | None = None,
               origin: str | None = None, store_timeout_s: float = 10.0) -> VerifyReport:
    """Everything verify checks (see the module's docstring), the first bad seq named.
    `extra_checkpoints`: signed chain checkpoints kept apart from the log (its mirror file), checked
    with the log's own: they show a truncation or rewrite whose checkpoints were deleted from the store.
    `origin`: the log every signed tree head, the log's and the witness's, must name.
    `store_timeout_s`: a PostgreSQL server that does not answer a connection within it fails the check."""
    started = time.perf_counter()
    view = open_view(url, store_timeout_s)
    view.checkpoints = sorted(view.checkpoints + list(extra_checkpoints or []), key=lambda cp: cp.seq)
    try:
        # The type and raw-store checks run in the database (without the GIL) while the chain is checked.
        with ThreadPoolExecutor(2, thread_name_prefix="mlobs-audit-rows") as pool:
            rows = pool.submit(_row_problem, url, now or datetime.now(timezone.utc), raw_retention_days,
                               store_timeout_s)
            lookup = pool.submit(_lookup_problem, url)
            report = _verify(view, public, witness, allow_empty, allow_unsigned_tail, workers, started, origin)
            row_problem, time_notes = rows.result()
            if report.head_seq:
                report.notes += time_notes
            found = [p for p in (row_problem, lookup.result()) if p is not None] if report.head_seq else []
            problem = min(found, key=lambda p: (p.seq is None, p.seq or 0)) if found else None
    finally:
        view.close()
    if problem is not None:
        first = report.problem
        # The chain's or tree's finding stands at the same seq: a row problem there is its consequence.
        if first is None or (problem.seq is not None and (first.seq is None or problem.seq < first.seq)):
            report.ok, report.problem = False, problem
            if first is not None:
                report.notes.append(f"also: {first}")
        else:
            report.notes.append(f"also: {problem}")
        report.seconds = time.perf_counter() - started
    return report


def _row_problem(url: str, now: datetime, retention_days: float,
                 store_timeout_s: float = 10.0) -> tuple[Problem | None, list[str]]:
    """The row checks, and the notes on record times, on a read-only connection of their own (the verify
    connection stays on its thread)."""
    if url.startswith("sqlite:///"):
        conn = connect_readonly(url.removeprefix("sqlite:///"))
        query, is_sqlite = sqlite_query(conn), True
    else:
        from mlobs.audit.storage.pg_bounded import VERIFY_TIMEOUT_S, connect
        from mlobs.pg_connect import READ_ONLY

        conn = connect(url, VERIFY_TIMEOUT_S, connect_timeout_s=store_timeout_s, settings=READ_ONLY)
        query, is_sqlite = postgres_query(conn), False
    try:
        source = RowSource(query, is_sqlite)
        return row_checks.check(source, now, retention_days), row_checks.time_notes(source, now)
    finally:
        conn.close()


def _lookup_problem(url: str) -> Problem | None:
    """The SQLite log's lookup against its records, on a read-only connection of its own (a scan of
    its own, about 1 s for 300,000 records, beside the chain's)."""
    if not url.startswith("sqlite:///"):
        return None  # PostgreSQL indexes its records in their own table
    from mlobs.audit.storage.sqlite_lookup import first_unlisted

    path = Path(url.removeprefix("sqlite:///"))
    conn = connect_readonly(path)
    try:
        unlisted = first_unlisted(conn, path)
    finally:
        conn.close()
    if unlisted is None:
        return None
    return Problem(unlisted[0], None, f"the lookup beside the log does not list this record under its {unlisted[1]}: "
                                      f"a query by {unlisted[1]} would not return it (the lookup was edited; delete it "
                                      "and the log rebuilds it)")


def _verify(view: LogView, public, witness, allow_empty, allow_tail, workers, started, origin) -> VerifyReport:
    head_seq, _ = view.reader.head()
    notes = view.reader.notes()

    def fail(seq, what, base: VerifyReport | None = None) -> VerifyReport:
        report = base or VerifyReport(False, 0, head_seq, GENESIS_HASH, len(view.checkpoints))
        report.ok, report.problem = False, Problem(seq, None, what)
        report.seconds = time.perf_counter() - started
        return report

    if head_seq == 0:
        if witness is not None and _largest(witness, [public], origin)[0] > 0:
            size = _largest(witness, [public], origin)[0]
            return fail(1, f"the log is empty but witness {witness.source} cosigned a tree of {size} records "
                           "(the log was truncated or replaced)")
        if view.checkpoints:
            return fail(1, f"truncated: the log is empty but a checkpoint covers seq {view.checkpoints[-1].seq}")
        if not allow_empty:
            return fail(None, "the log holds no records (pass --allow-empty if an empty log is expected)")
        report = VerifyReport(True, 0, 0, GENESIS_HASH, 0)
        report.notes.append("empty log")
        return report

    # Signed tree heads of the log itself, with the trusted key and the keys it rotated to; each
    # rotated key is retired from the rotation on (signed_by: which key signed each head).
    keys = [public]
    retired = _rotated_keys(view, keys)
    heads: dict[int, TreeHead] = {}
    signed_by: dict[int, str] = {}
    for size, note in notes:
        try:
            head = open_with(note, keys, signed_by)
        except NoteError as exc:
            return fail(size, f"the signed checkpoint at tree size {size} does not verify with the trusted key: {exc}")
        if head.size != size:
            return fail(size, f"the checkpoint stored at tree size {size} is for size {head.size}")
        if origin is not None and head.origin != origin:
            return fail(size, f"the signed checkpoint at tree size {size} names the log {head.origin!r}, not "
                              f"{origin!r} (another log's checkpoint)")
        heads[size] = head
    reused = retired_key_reused(signed_by, view.checkpoints, retired)
    if reused is not None:
        return fail(*reused)

    # What a witness cosigned: checked against the log once the chain is known to be sound.
    witnessed: dict[int, TreeHead] = {}
    cosigned_at: dict[int, int] = {}
    largest, witness_problem = (_largest(witness, keys, origin, witnessed, cosigned_at) if witness is not None
                                else (0, None))
    wanted = {s: h.root for s, h in heads.items()}
    for size, seen in witnessed.items():
        wanted.setdefault(size, seen.root)

    # The hash chain against the signed chain checkpoints (first bad record named), and the
    # tree in the same read of the records.
    if workers is None:
        workers = min(os.cpu_count() or 1, 8) if head_seq >= 200_000 else 1
    workers = min(checked_workers(workers), head_seq)
    trees: list = []
    pinned, n_checkpoints, problem = check_signatures(view.checkpoints, keys)
    if problem is not None:
        report = _report(0, GENESIS_HASH, n_checkpoints, started, problem)
    else:
        sizes = sorted(s for s in wanted if s <= head_seq)
        segments, bounds, trees = verify_in_one_read(view.url, head_seq, pinned, sizes, workers)
        report = finish(segments, pinned, n_checkpoints, started, bounds)
    report.checkpoints_checked += len(heads)
    if not report.ok:
        pinned_at = report.problem.seq if "contradicts the signed checkpoint" in report.problem.what else None
        if pinned_at is not None:  # a rewrite consistent from its start: find where it starts
            _name_first_changed(view.reader, heads, report)
        report.seconds = time.perf_counter() - started
        return report

    # The witness's view.
    if witness is not None:
        if witness_problem is not None:
            return fail(None, witness_problem, report)
        cosigned = ("each cosigned by the witness's key" if witness.public_key else
                    "their cosignatures NOT checked (no --witness-key given)")
        report.notes.append(f"witness {witness.source}: {len(witness.notes)} of its checkpoints read, signed by the "
                            f"log, the largest at size {largest}; {cosigned}")
        if largest > head_seq:
            return fail(head_seq + 1, f"witness {witness.source} cosigned a tree of {largest} records but the log "
                                      f"holds {head_seq}: records {head_seq + 1}..{largest} were removed "
                                      "(truncation or rollback)", report)
        for size, seen in witnessed.items():
            mine = heads.get(size)
            if mine is not None and mine.root != seen.root:
                return fail(None, f"split view: the log signed two different trees of size {size} (one kept by the "
                                  f"log, one cosigned by witness {witness.source})", report)
        latest_kept = max(heads, default=0)
        if largest > latest_kept:
            report.notes.append(f"the log's own signed checkpoints end at size {latest_kept}; witness "
                                f"{witness.source} holds one at {largest}")
            if largest > 0 and largest not in heads:
                return fail(None, f"signed checkpoints were deleted: witness {witness.source} holds the log's "
                                  f"checkpoint at size {largest}, the log's latest is at size {latest_kept}", report)
        ahead = _stamped_after_witness(view, largest, cosigned_at.get(largest), witness.source)
        if ahead is not None:
            report.notes.append(ahead)

    # Every signed root against the records.
    bad = first_mismatch(trees, wanted)
    if bad is not None:
        where = "a witness's cosigned" if bad not in heads else "its signed"
        report = fail(None, f"the records 1..{bad} do not give the root of {where} checkpoint at size {bad} "
                            "(records, or the tree, rewritten)", report)
        _name_first_changed(view.reader, {**witnessed, **heads}, report)
        return report

    covered = max(wanted, default=0)
    if covered < head_seq:
        what = (f"records {covered + 1}..{head_seq} are covered by no signed checkpoint (appended since the last "
                "one: forged, or a live log's newest records)")
        if not allow_tail:
            return fail(covered + 1, what + "; pass --allow-unsigned-tail to accept them for a live log", report)
        report.notes.append(what)
    report.notes = [n for n in report.notes if "covered by the chain only" not in n]
    report.notes.append(f"tree heads checked: {len(wanted)} (RFC 9162 roots recomputed from the records)")
    named = sorted({h.origin for h in heads.values()})
    if origin is None and named:
        report.notes.append(f"the signed tree heads name the log {', '.join(map(repr, named))} (pin it with --origin)")
    report.seconds = time.perf_counter() - started
    return report


def open_with(note: str, keys: list, signed_by: dict[int, str] | None = None) -> TreeHead:
    """The head of a checkpoint signed by any of `keys`; raises the first key's NoteError otherwise.
    `signed_by` gets {size: key id} of the key that signed it."""
    first = None
    for public in keys:
        try:
            head = open_checkpoint(note, public)
        except NoteError as exc:
            first = first or exc
            continue
        if signed_by is not None:
            signed_by[head.size] = key_id_of(public)
        return head
    raise first


def _rotated_keys(view: LogView, keys: list) -> dict[str, int]:
    """Extend `keys` with every key that a rotation record, signed by a key already trusted, names;
    returns {key id: seq of the rotation record} of each key rotated away."""
    from mlobs.audit.keys.key_rotation import new_key_in
    from mlobs.audit.storage.tree_store import rotation_records

    try:
        rows = rotation_records(view.reader, view.url.startswith("sqlite:///"))
    except sqlite3.DatabaseError:
        rows = []  # a header that is not JSON (its index dropped): the record checks name it and verify fails
    retired: dict[str, int] = {}
    for seq, _, payload in rows:
        try:
            note = orjson.loads(bytes(payload))["details"]["statement"]
            new = new_key_in(note, keys)
        except (NoteError, KeyError, TypeError, ValueError, orjson.JSONDecodeError):
            continue  # a rotation not signed by a trusted key grants nothing
        for old in keys:
            if key_id_of(old) not in retired and _signs(note, old):
                retired[key_id_of(old)] = seq
        keys.append(new)
    return retired


def _signs(note: str, public) -> bool:
    from mlobs.audit.keys.key_rotation import new_key_in

    try:
        new_key_in(note, [public])
    except NoteError:
        return False
    return True


def retired_key_reused(signed_by: dict[int, str], checkpoints: list, retired: dict[str, int]) -> tuple | None:
    """(size, what) of the first tree head or chain checkpoint a rotated key signed past the last one
    it may: the first that covers its rotation record. Otherwise a leaked key, the usual reason to
    rotate, could sign a rewritten history after its rotation and pass."""
    signed = sorted([(size, kid, "tree head") for size, kid in signed_by.items()]
                    + [(cp.seq, cp.key_id, "chain checkpoint") for cp in checkpoints])
    last: dict[str, int] = {}
    for size, kid, what in signed:
        rotation = retired.get(kid)
        if rotation is None or size < rotation:
            continue
        last.setdefault(kid, size)
        if size > last[kid]:
            return size, (f"the {what} at size {size} is signed by a key retired by the rotation record at seq "
                          f"{rotation}, after its last head at size {last[kid]} (a retired key re-used)")
    return None


def _stamped_after_witness(view: LogView, size: int, at: int | None, source: str) -> str | None:
    """A note naming the records of the tree a witness cosigned that carry a time after its cosignature (by more
    than a minute): the witness's clock, on another host, bounds when they were decided; the log's ran ahead."""
    if at is None or size == 0:
        return None
    witnessed = datetime.fromtimestamp(at, timezone.utc)
    found = RowSource(view.reader._query, view.url.startswith("sqlite:///")).times_after(
        format_ts(witnessed + timedelta(seconds=row_checks.STEPPED_S)), up_to=size)
    if found is None:
        return None
    seq, ts, n = found
    return (f"{n} record(s) of the tree of {size} that witness {source} cosigned at {format_ts(witnessed)} are "
            f"stamped after that, first at seq {seq} ({ts}): the log's wall clock ran ahead when they were written")


def _largest(witness: Witnessed, keys: list, origin: str | None, into: dict | None = None,
             cosigned_at: dict | None = None) -> tuple[int, str | None]:
    """The largest tree the witness cosigned, or the first problem. `into`: {size: head} of each checkpoint it
    kept; `cosigned_at`: {size: unix seconds} of each cosignature checked (the witness's own clock)."""
    largest = 0
    for note in witness.notes:
        try:
            head = open_with(note, keys)
        except NoteError as exc:
            return largest, f"a checkpoint kept by witness {witness.source} is not signed by the trusted key: {exc}"
        if origin is not None and head.origin != origin:
            return largest, (f"witness {witness.source} holds a checkpoint of the log {head.origin!r}, not {origin!r} "
                             "(it witnesses another log)")
        if witness.public_key is not None:
            try:
                at = verify_cosignature(note, witness.public_key)
            except NoteError as exc:
                return largest, f"a checkpoint kept by witness {witness.source} is not cosigned by its key: {exc}"
            if cosigned_at is not None:
                cosigned_at[head.size] = at
        if into is not None:
            if head.size in into and into[head.size].root != head.root:
                return largest, (
                    f"split view: witness {witness.source} holds two different signed trees of size {head.size}"
                )
            into[head.size] = head
        largest = max(largest, head.size)
    return largest, None


def _name_first_changed(reader: TreeReader, heads: dict[int, TreeHead], report: VerifyReport) -> None:
    """Name the first record that differs from a signed tree, from the leaf hashes kept with the tree:
    those below the largest signed size whose root they give are the signed leaves. Leaves the
    report as it is when they show nothing."""
    top = max(heads, default=0)
    blocks = top >> STRIDE
    kept = None
    while blocks and kept is None:
        kept = reader.kept_leaves(blocks)
        blocks = blocks if kept is not None else blocks - 1
    if not kept:
        return
    rng, trusted, at = CompactRange(), 0, 0
    for size in sorted(s for s in heads if s <= len(kept)):
        rng.append_leaves(kept[at:size])
        at = size
        if rng.root() == heads[size].root:
            trusted = size
    for lo in range(0, trusted, CHUNK):
        count = min(CHUNK, trusted - lo)
        try:
            now = reader.leaves(lo, count)
        except TreeMissing:
            return
        for i, (a, b) in enumerate(zip(now, kept[lo : lo + count])):
            if a != b:
                seq = lo + i + 1
                what = (f"differs from the record the signed tree of size {trusted} holds at this place (this record "
                        f"and the chain after it were rewritten); {report.problem.what}")
                report.problem = Problem(seq, _decision_id(reader, seq), what)
                return


def _decision_id(reader: TreeReader, seq: int) -> str | None:
    rows = reader.records(seq, seq)
    try:
        return orjson.loads(rows[0][1])[3] if rows else None
    except (orjson.JSONDecodeError, IndexError):
        return None


def trusted_key(public_key_file: Path | None, fingerprint_pin: str | None, keys_dir: Path | None) -> Ed25519PublicKey:
    """The key a verification trusts: a file the verifier brings, or the log's published key only if
    it matches a fingerprint pinned in the verifier's settings."""
    from mlobs.audit.keys.signing import load_public_key

    if public_key_file is not None:
        return load_public_key(public_key_file)
    if fingerprint_pin:
        if keys_dir is None:
            raise ValueError("a pinned key fingerprint needs the log's keys directory to find the key")
        key = load_public_key(Path(keys_dir) / "checkpoint_signing.pub.pem")
        if fingerprint(key) != fingerprint_pin.lower():
            raise ValueError(f"the public key beside the log ({fingerprint(key)[:16]}...) is not the pinned one "
                             f"({fingerprint_pin[:16]}...)")
        return key
    raise ValueError("no trusted key: pass --public-key FILE (obtained apart from the log) or pin its "
                     "fingerprint in MLOBS_AUDIT__PUBLIC_KEY_FINGERPRINT")


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
