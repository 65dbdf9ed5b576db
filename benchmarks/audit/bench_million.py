"""Verify and subject-query timings on a SQLite audit log of 1,000,000 records.

Usage: python benchmarks/audit/bench_million.py [--records N] [--keep DIR]
Builds the log through the real writer (group commit of 10,000), then prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from mlobs.audit import AuditLog, AuditSettings, Decision


def build(log: AuditLog, n: int, subjects: int) -> float:
    start = time.perf_counter()
    step = 50_000
    for lo in range(0, n, step):
        futures = [
            log.submit(Decision("credit", "gbm", "3", {"score": 0.5}, subject=f"applicant-{i % subjects}",
                                outcome="deny" if i % 3 else "approve", reason_codes=["debt_ratio"],
                                inputs={"income_band": "B"}, personal={"name": f"P{i}"}, latency_ms=1.0))
            for i in range(lo, min(n, lo + step))
        ]
        for f in futures:
            f.result(300)
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="reuse or keep the log in this directory")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="mlobs-audit-bench-"))
    subjects = args.records // 10
    settings = AuditSettings(store_url=f"sqlite:///{base / 'audit.db'}", max_batch=10_000,
                             queue_size=60_000, checkpoint_every=100_000)
    log = AuditLog.open(settings, base_dir=base)
    try:
        have = log.store.head()[0]
        rate = build(log, args.records - have, subjects) if have < args.records else None

        verify_s = {}
        for workers in (1, os.cpu_count() or 1):
            runs = []
            for _ in range(3):
                report = log.verify(workers=workers)
                assert report.ok, report.text()
                runs.append(report.seconds)
            verify_s[workers] = statistics.median(runs)

        log.query(subject="applicant-1")  # open this thread's reader connection
        cold, warm = [], []
        for k in range(200):
            t = time.perf_counter()
            found = log.query(subject=f"applicant-{(k * 7919) % subjects}")
            cold.append(time.perf_counter() - t)
            assert len(found) == 10
            t = time.perf_counter()
            log.query(subject=f"applicant-{(k * 7919) % subjects}")
            warm.append(time.perf_counter() - t)
    finally:
        log.close()
        if not args.keep:  # 750 MB a run: a scratch log goes with its run
            shutil.rmtree(base, ignore_errors=True)

    print(f"| measure ({args.records:,} records, SQLite) | value |")
    print("|---|---:|")
    if rate:
        print(f"| build through the writer (10,000 per commit) | {rate:,.0f} records/s |")
    for workers, seconds in verify_s.items():
        print(f"| verify whole chain + checkpoints, {workers} process(es) (median of 3) | {seconds:.2f} s "
              f"({args.records / seconds:,.0f} records/s) |")
    print(f"| query by raw subject, 10 hits, first time (median) | {statistics.median(cold) * 1e3:.3f} ms |")
    print(f"| same query repeated (median) | {statistics.median(warm) * 1e3:.3f} ms |")
    print(f"| same query p99 (first time) | {sorted(cold)[int(len(cold) * 0.99) - 1] * 1e3:.3f} ms |")


if __name__ == "__main__":
    main()
