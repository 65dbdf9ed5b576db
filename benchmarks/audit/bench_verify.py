"""`mlobs audit verify`'s cost on a SQLite log, its parts compared in interleaved rounds.

Usage: python benchmarks/audit/bench_verify.py DIR [--rounds N] [--workers N]
DIR holds audit.db and keys/ (e.g. a log kept by `bench_proofs.py --keep DIR`). Each round runs,
one after the other: the full verification (chain, tree heads, types, raw store), the same without
the type and raw-store checks, and those checks alone; alternating them keeps a loaded machine's
drift out of the comparison. Prints a markdown table of medians and ranges (wall seconds).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

from mlobs.audit.storage import row_checks
from mlobs.audit.verification import trust_verify
from mlobs.audit.keys.signing import load_public_key
from mlobs.audit.storage.tree_store import sqlite_query


def rows_alone(path: Path) -> float:
    started = time.perf_counter()
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        problem = row_checks.check(row_checks.RowSource(sqlite_query(conn), True), datetime.now(timezone.utc), 7.0)
    finally:
        conn.close()
    assert problem is None, problem
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dir", type=Path)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    url = f"sqlite:///{args.dir / 'audit.db'}"
    public = load_public_key(args.dir / "keys" / "checkpoint_signing.pub.pem")
    with_rows = trust_verify._row_problem
    times: dict[str, list[float]] = {"verify: chain, tree heads, types, raw store": [],
                                     "verify: chain and tree heads only": [],
                                     "types and raw store alone (1 thread)": []}
    names = list(times)
    records = 0
    for _ in range(args.rounds):
        for name, check in ((names[0], with_rows), (names[1], lambda *a: None)):
            trust_verify._row_problem = check
            report = trust_verify.verify_log(url, public, workers=args.workers)
            assert report.ok, report.text()
            times[name].append(report.seconds)
            records = report.records
        trust_verify._row_problem = with_rows
        times[names[2]].append(rows_alone(args.dir / "audit.db"))
    print(f"| measure ({records:,} records, SQLite, {args.workers} processes, {args.rounds} interleaved rounds) "
          "| median | range |")
    print("|---|---:|---:|")
    for name, values in times.items():
        print(f"| {name} | {statistics.median(values):.2f} s | {min(values):.2f}-{max(values):.2f} s |")


if __name__ == "__main__":
    main()
