"""Check a log's chain and recompute the Merkle roots its signed heads claim, in one read of the
records, a seq range per process (SQLite or PostgreSQL).

Each range is hashed into a compact range (its aligned perfect subtrees), with a snapshot at every
signed size inside it; the parent joins the ranges in order and compares each root.
`python -m mlobs.audit.verification.tree_verify` is the worker: a JSON job on stdin, its results on stdout.
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
_SRC = str(Path(__file__).resolve().parents[3])


class _Hasher:
    """Leaf hashes into a compact range from leaf `start`, with a snapshot at each size in `stops`."""

    def __init__(self, start: int, stops: list[int]) -> None:
        self.rng = CompactRange(start)
        self.snapshots: dict[int, list] = {}
        self._stops = sorted(stops)

    def feed(self, rows) -> None:
        """Rows whose first two fields are the header and payload bytes, in seq order."""
        sha256 = hashlib.sha256
        leaves = [sha256(b"\x00" + row[0] + b"\n" + row[1]).digest() for row in rows]
        at = self.rng.end
        while self._stops and self._stops[0] <= at + len(leaves):
            cut = self._stops.pop(0) - at
            self.rng.append_leaves(leaves[:cut])
            self.snapshots[at + cut] = list(self.rng.nodes)
            leaves, at = leaves[cut:], at + cut
        self.rng.append_leaves(leaves)


def chain_and_tree(url: str, lo: int, hi: int, pinned: dict[int, str], stops: list[int]):
    """One read of records lo..hi (seq) for both the chain check and the tree: the chain's
    Segment, and the tree's snapshots and compact range (complete if the chain was intact)."""
    from mlobs.audit.record import GENESIS_HASH
    from mlobs.audit.verification.sqlite_verify import check_range, connect_readonly

    hasher = _Hasher(lo - 1, stops)
    if not url.startswith("sqlite:///"):
        from mlobs.audit.verify import check_segment
        from mlobs.audit.verification.verify_worker import postgres_rows

        rows = _hashed(postgres_rows(url, lo, hi), hasher)
        return check_segment(rows, pinned, lo, GENESIS_HASH if lo == 1 else None), hasher.snapshots, hasher.rng.nodes
    conn = connect_readonly(url.removeprefix("sqlite:///"))
    try:
        segment = check_range(conn, lo, hi, pinned, GENESIS_HASH if lo == 1 else None, on_rows=hasher.feed)
    finally:
        conn.close()
    return segment, hasher.snapshots, hasher.rng.nodes


def _hashed(rows, hasher: _Hasher, chunk: int = CHUNK):
    """The rows (seq, header, payload, hash) as they are, each also hashed into the tree (a chunk
    at a time). Rows after a break in the chain may go unhashed: the chain's problem is reported."""
    held = []
    for row in rows:
        held.append((row[1].encode(), row[2]))
        if len(held) >= chunk:
            hasher.feed(held)
            held = []
        yield row
    hasher.feed(held)


def first_mismatch(results, wanted: dict[int, bytes]) -> int | None:
    """Join (snapshots, final) ranges in order; the smallest snapshot size whose root is not wanted."""
    running = CompactRange()
    for snapshots, final in results:
        for size in sorted(snapshots):
            joined = running.copy()
            joined.extend(CompactRange(nodes=snapshots[size]))
            if joined.root() != wanted[size]:
                return size
        running.extend(CompactRange(nodes=final))
    return None


def verify_in_one_read(url: str, head_seq: int, pinned: dict[int, str], sizes: list[int], workers: int):
    """Chain and tree of a log in one read, a seq range per process: (segments, bounds, tree
    results) for verify.finish and first_mismatch."""
    step = -(-head_seq // workers)
    bounds = [(lo, min(head_seq, lo + step - 1)) for lo in range(1, head_seq + 1, step)]
    jobs = [("both", url, lo, hi, {s: h for s, h in pinned.items() if lo <= s <= hi},
             [s for s in sizes if lo - 1 < s <= hi]) for lo, hi in bounds]
    results = _run(jobs, lambda job: chain_and_tree(*job[1:]))
    return [r[0] for r in results], bounds, [(r[1], r[2]) for r in results]


def _run(jobs: list[tuple], here) -> list:
    """The first job in this process while the others run in worker processes; results in order."""
    procs = [_start(job) for job in jobs[1:]]
    try:
        return [here(jobs[0])] + [_result(p) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def _start(job: tuple) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [_SRC, os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen([sys.executable, "-P", "-m", "mlobs.audit.verification.tree_verify"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    proc.stdin.write(orjson.dumps(job, option=orjson.OPT_NON_STR_KEYS))
    proc.stdin.close()
    proc.stdin = None
    return proc


def _decode(nodes: list) -> list:
    return [(level, index, bytes.fromhex(h)) for level, index, h in nodes]


def _result(proc: subprocess.Popen):
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(
            f"tree verify worker failed (exit {proc.returncode}): {err.decode(errors='replace')[-2000:]}"
        )
    data = orjson.loads(out)
    tree = {int(s): _decode(n) for s, n in data["snapshots"].items()}, _decode(data["final"])
    if "segment" not in data:
        return tree
    from mlobs.audit.verification.verify_worker import segment_from_json

    return (segment_from_json(orjson.dumps(data["segment"])), *tree)


def main() -> None:
    from dataclasses import asdict

    mode, *job = orjson.loads(sys.stdin.buffer.read())

    def enc(nodes):
        return [(level, index, h.hex()) for level, index, h in nodes]

    url, lo, hi, pinned, stops = job
    segment, snapshots, final = chain_and_tree(url, lo, hi, {int(s): h for s, h in pinned.items()}, stops)
    out = {"segment": asdict(segment)}
    out.update(snapshots={str(s): enc(n) for s, n in snapshots.items()}, final=enc(final))
    sys.stdout.buffer.write(orjson.dumps(out))


if __name__ == "__main__":
    main()
