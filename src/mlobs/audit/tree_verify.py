"""Recompute the Merkle roots a log's signed heads claim, a leaf range per process.

Each range [lo, hi) is hashed into a compact range (its aligned perfect subtrees), with a snapshot
at every signed size inside it; the parent joins the ranges in order and compares each root.
`python -m mlobs.audit.tree_verify` is the worker: a JSON job on stdin, the ranges on stdout.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import orjson

from mlobs.audit.merkle import CompactRange

CHUNK = 10_000
_SRC = str(Path(__file__).resolve().parents[2])


def _rows(url: str, lo: int, hi: int):
    """(header, payload) of records lo+1..hi as bytes, in chunks."""
    sql = "SELECT header, payload FROM audit_records WHERE seq > ? AND seq <= ? ORDER BY seq"
    if url.startswith("sqlite:///"):
        from mlobs.audit.sqlite_verify import connect_readonly

        conn = connect_readonly(url.removeprefix("sqlite:///"))
        try:
            for first in range(lo, hi, CHUNK):
                yield conn.execute(sql, (first, min(hi, first + CHUNK))).fetchall()
        finally:
            conn.close()
        return
    import psycopg

    with psycopg.connect(url) as conn:
        for first in range(lo, hi, CHUNK):
            rows = conn.execute(sql.replace("?", "%s"), (first, min(hi, first + CHUNK))).fetchall()
            yield [(h.encode(), bytes(p)) for h, p in rows]


def hash_range(url: str, lo: int, hi: int, stops: list[int]) -> tuple[dict[int, list], list]:
    """The compact range of leaves [lo, hi) and its snapshot at each size in `stops` (lo < s <= hi)."""
    sha256 = hashlib.sha256
    rng = CompactRange(lo)
    snapshots: dict[int, list] = {}
    pending = sorted(stops)
    at = lo
    for rows in _rows(url, lo, hi):
        leaves = [sha256(b"\x00" + h + b"\n" + p).digest() for h, p in rows]
        while pending and pending[0] <= at + len(leaves):
            cut = pending.pop(0) - at
            rng.append_leaves(leaves[:cut])
            snapshots[at + cut] = list(rng.nodes)
            leaves, at = leaves[cut:], at + cut
        rng.append_leaves(leaves)
        at += len(leaves)
    if at != hi:
        raise LookupError(f"records {at + 1}..{hi} are missing")
    return snapshots, rng.nodes


def roots_mismatch(url: str, wanted: dict[int, bytes], head_seq: int, workers: int = 1) -> int | None:
    """The smallest signed size whose root the records do not give, or None."""
    sizes = sorted(s for s in wanted if s <= head_seq)
    if not sizes:
        return None
    top = sizes[-1]
    workers = max(1, min(workers, top // CHUNK or 1))
    step = -(-top // workers)
    bounds = [(lo, min(top, lo + step)) for lo in range(0, top, step)]
    jobs = [(url, lo, hi, [s for s in sizes if lo < s <= hi]) for lo, hi in bounds]
    procs = [_start(job) for job in jobs[1:]]
    try:
        results = [hash_range(*jobs[0])] + [_result(p) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    running = CompactRange()
    for snapshots, final in results:
        for size in sorted(snapshots):
            joined = running.copy()
            joined.extend(CompactRange(nodes=snapshots[size]))
            if joined.root() != wanted[size]:
                return size
        running.extend(CompactRange(nodes=final))
    return None


def _start(job: tuple) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [_SRC, os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen([sys.executable, "-P", "-m", "mlobs.audit.tree_verify"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    proc.stdin.write(orjson.dumps(job))
    proc.stdin.close()
    proc.stdin = None
    return proc


def _decode(nodes: list) -> list:
    return [(level, index, bytes.fromhex(h)) for level, index, h in nodes]


def _result(proc: subprocess.Popen) -> tuple[dict[int, list], list]:
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"tree verify worker failed (exit {proc.returncode}): {err.decode(errors='replace')[-2000:]}")
    data = orjson.loads(out)
    return {int(s): _decode(n) for s, n in data["snapshots"].items()}, _decode(data["final"])


def main() -> None:
    url, lo, hi, stops = orjson.loads(sys.stdin.buffer.read())
    snapshots, final = hash_range(url, lo, hi, stops)

    def enc(nodes):
        return [(level, index, h.hex()) for level, index, h in nodes]

    sys.stdout.buffer.write(orjson.dumps({"snapshots": {str(s): enc(n) for s, n in snapshots.items()},
                                          "final": enc(final)}))


if __name__ == "__main__":
    main()
