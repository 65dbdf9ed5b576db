"""Verify a long log with several processes: each checks one seq range, the parent stitches them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from mlobs.audit.record import GENESIS_HASH
from mlobs.audit.keys.signing import Checkpoint
from mlobs.audit.verify import VerifyReport, _report, check_signatures, finish
from mlobs.audit.verification.verify_worker import check_range, job, segment_from_json

_SRC = str(Path(__file__).resolve().parents[3])  # where `mlobs` is importable from
WORKERS_PER_CORE = 4  # more processes than this per core only wait on one another and on the disk


def max_workers() -> int:
    """The most verifier processes one check may start."""
    return WORKERS_PER_CORE * (os.cpu_count() or 1)


def checked_workers(workers: int) -> int:
    """`workers` if a check may start that many processes; ValueError naming the range otherwise
    (a mistyped count would start a process per record)."""
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= max_workers():
        raise ValueError(f"workers must be a whole number from 1 to {max_workers()} ({WORKERS_PER_CORE} per core), "
                         f"not {workers!r}")
    return workers


def verify_parallel(
    url: str, head_seq: int, checkpoints: list[Checkpoint], public_keys: list, workers: int
) -> VerifyReport:
    """As verify_rows over records 1..head_seq, split across `workers` processes (1: this one).
    The parent checks the first range itself while the workers check the rest."""
    started = time.perf_counter()
    pinned, n_checkpoints, problem = check_signatures(checkpoints, public_keys)
    if problem is not None:
        return _report(0, GENESIS_HASH, n_checkpoints, started, problem)
    step = -(-head_seq // workers)
    bounds = [(lo, min(head_seq, lo + step - 1)) for lo in range(1, head_seq + 1, step)]
    jobs = [(url, lo, hi, {s: h for s, h in pinned.items() if lo <= s <= hi}) for lo, hi in bounds]
    procs = [_start(spec) for spec in jobs[1:]]
    try:
        segments = [check_range(*jobs[0]), *(_result(p) for p in procs)]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return finish(segments, pinned, n_checkpoints, started, bounds)


def _start(spec: tuple) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [_SRC, os.environ.get("PYTHONPATH")]))}
    # -P: not the working directory first on sys.path, where a stray `mlobs` could shadow this one.
    proc = subprocess.Popen([sys.executable, "-P", "-m", "mlobs.audit.verification.verify_worker"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    proc.stdin.write(job(*spec))
    proc.stdin.close()
    proc.stdin = None  # sent: communicate() only reads
    return proc


def _result(proc: subprocess.Popen):
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(
            f"audit verify worker failed (exit {proc.returncode}): {err.decode(errors='replace')[-2000:]}"
        )
    return segment_from_json(out)
