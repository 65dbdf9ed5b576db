"""Group commit under closed-loop load: durable records per second and records per commit.

Usage: python benchmarks/audit/bench_group_commit.py [--callers 32] [--seconds 4] [--rounds 3]
Each caller awaits its record's durability before sending the next (as a request handler does),
so a fixed wait per group would cap throughput at callers / wait; a self-clocking writer's
groups grow with the commit's latency instead.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from mlobs.audit import AuditLog, AuditSettings, Decision


async def round_(callers: int, seconds: float) -> tuple[float, float]:
    base = Path(tempfile.mkdtemp(prefix="mlobs-group-commit-"))
    log = AuditLog.open(AuditSettings(store_url=f"sqlite:///{base / 'audit.db'}"), base_dir=base)
    done = 0
    stop = time.monotonic() + seconds

    async def caller(n: int) -> None:
        nonlocal done
        i = 0
        while time.monotonic() < stop:
            i += 1
            await log.append_async(Decision("credit", "m", "1", {"score": 0.5}, subject=f"s{n}-{i % 50}",
                                            personal={"n": i}, raw={"body": i}))
            done += 1

    try:
        commits = log.store.commits
        start = time.perf_counter()
        await asyncio.gather(*(caller(n) for n in range(callers)))
        elapsed = time.perf_counter() - start
        return done / elapsed, done / max(1, log.store.commits - commits)
    finally:
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--callers", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results = [asyncio.run(round_(args.callers, args.seconds)) for _ in range(args.rounds)]
    rate = statistics.median(r[0] for r in results)
    group = statistics.median(r[1] for r in results)
    print("| closed-loop callers | durable records/s (median) | records per commit (median) |\n|---|---:|---:|")
    print(f"| {args.callers} | {rate:,.0f} | {group:.1f} |")


if __name__ == "__main__":
    main()
