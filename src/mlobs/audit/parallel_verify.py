"""Verify a long log with several processes: each checks one seq range, the parent stitches them."""

from __future__ import annotations

import multiprocessing
import time
from typing import Iterator

from mlobs.audit.record import GENESIS_HASH
from mlobs.audit.signing import Checkpoint
from mlobs.audit.sqlite_verify import check_range, connect_readonly
from mlobs.audit.store import SELECT_COLUMNS
from mlobs.audit.verify import Segment, VerifyReport, _report, check_segment, check_signatures, finish


def iter_range(url: str, lo: int, hi: int, chunk: int = 10_000) -> Iterator[tuple]:
    """PostgreSQL rows with lo <= seq <= hi, without opening (or migrating) the store.
    SQLite ranges are checked by mlobs.audit.sqlite_verify instead."""
    sql = f"SELECT {SELECT_COLUMNS} FROM audit_records WHERE seq BETWEEN {int(lo)} AND {int(hi)} ORDER BY seq"
    import psycopg

    with psycopg.connect(url) as conn, conn.cursor(name="audit_verify_range") as cur:
        cur.itersize = chunk
        cur.execute(sql)
        yield from cur


def _check_range(url: str, lo: int, hi: int, pinned: dict[int, str]) -> Segment:
    start_prev = GENESIS_HASH if lo == 1 else None
    if url.startswith("sqlite:///"):
        conn = connect_readonly(url.removeprefix("sqlite:///"))
        try:
            return check_range(conn, lo, hi, pinned, start_prev)
        finally:
            conn.close()
    return check_segment(iter_range(url, lo, hi), pinned, lo, start_prev)


def verify_parallel(url: str, head_seq: int, checkpoints: list[Checkpoint], public_keys: list, workers: int) -> VerifyReport:
    """As verify_rows over records 1..head_seq, split across `workers` processes (1: this one)."""
    started = time.perf_counter()
    pinned, n_checkpoints, problem = check_signatures(checkpoints, public_keys)
    if problem is not None:
        return _report(0, GENESIS_HASH, n_checkpoints, started, problem)
    step = -(-head_seq // workers)
    bounds = [(lo, min(head_seq, lo + step - 1)) for lo in range(1, head_seq + 1, step)]
    jobs = [(url, lo, hi, {s: h for s, h in pinned.items() if lo <= s <= hi}) for lo, hi in bounds]
    if len(jobs) == 1:
        return finish([_check_range(*jobs[0])], pinned, n_checkpoints, started, bounds)
    # spawn, not fork: the parent runs a writer thread and holds database connections.
    # The parent checks the first range itself while the workers check the rest.
    with multiprocessing.get_context("spawn").Pool(len(jobs) - 1) as pool:
        rest = pool.starmap_async(_check_range, jobs[1:])
        first = _check_range(*jobs[0])
        segments = [first, *rest.get()]
    return finish(segments, pinned, n_checkpoints, started, bounds)
