"""Durable appends per second through AuditLog (pseudonym, encryption, chain, group commit).

Usage: python benchmarks/audit/bench_append.py [--postgres URL]
Prints a markdown table. Each batch size is the writer's max_batch: records per commit.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from mlobs.audit import AuditLog, AuditSettings, Decision

SIZES = {1: 500, 10: 3_000, 100: 20_000, 1_000: 60_000}


def decision(i: int) -> Decision:
    return Decision("credit", "gbm", "3", {"score": 0.5}, subject=f"applicant-{i % 5000}", outcome="deny",
                    reason_codes=["debt_ratio"], inputs={"income_band": "B"}, personal={"name": f"P{i}"},
                    trace_id=f"{i:032x}", latency_ms=1.2)


def run(url: str, base: Path, batch: int, n: int) -> float:
    log = AuditLog.open(AuditSettings(store_url=url, max_batch=batch, queue_size=n + 10), base_dir=base)
    try:
        for i in range(200):  # warm keys and caches
            log.submit(decision(i))
        log.checkpoint()
        records = [decision(i) for i in range(n)]
        start = time.perf_counter()
        futures = [log.submit(d) for d in records]
        for f in futures:
            f.result(120)
        return n / (time.perf_counter() - start)
    finally:
        log.close()


def fresh_schema(url: str, name: str) -> str:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        conn.execute(f"CREATE SCHEMA {name}")
    return f"{url}?options=-csearch_path%3D{name}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", help="a postgresql:// URL to benchmark as well")
    args = parser.parse_args()
    print("| backend | records per commit | durable appends/s |")
    print("|---|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for batch, n in SIZES.items():
            base = Path(tmp) / f"sqlite-{batch}"
            rate = run(f"sqlite:///{base / 'audit.db'}", base, batch, n)
            print(f"| SQLite (WAL, synchronous=FULL) | {batch:,} | {rate:,.0f} |", flush=True)
        if args.postgres:
            for batch, n in SIZES.items():
                rate = run(fresh_schema(args.postgres, f"bench_{batch}"), Path(tmp) / f"pg-{batch}", batch, n)
                print(f"| PostgreSQL | {batch:,} | {rate:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
