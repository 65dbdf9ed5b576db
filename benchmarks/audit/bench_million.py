"""Verify and subject-query timings on audit logs growing to 1,000,000 records.

Usage: python benchmarks/audit/bench_million.py [--sizes 10000,100000,1000000] [--keep DIR]
                                                [--postgres URL|local] [--write-docs]
Builds a SQLite log (and one on PostgreSQL when asked) through the real writer (group commit of
10,000) up to each size in turn; at each size verifies the whole log with one process and with one
per core (median of 3), both as the service's own `AuditLog.verify()` does (chain, checkpoints,
types, raw store) and as `mlobs audit verify` does (the same and every signed tree head, on a
read-only connection); at the largest size it times lookups by subject.
Prints markdown tables; --write-docs also draws verify time against log size into
docs/img/audit-verify.svg and writes both into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from pg_server import fresh_schema, postgres

from mlobs.audit import AuditLog, AuditSettings, Decision
from mlobs.audit.verification.trust_verify import verify_log  # what `mlobs audit verify` runs

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from docs_page import BASE, MUTED, docs_arguments, figure, publish, save_figure  # noqa: E402

SQLITE, POSTGRES = "SQLite", "PostgreSQL"
LIBRARY, CLI = "AuditLog.verify()", "mlobs audit verify"


def build(log: AuditLog, have: int, n: int, subjects: int) -> float:
    start = time.perf_counter()
    step = 50_000
    for lo in range(have, n, step):
        futures = [
            log.submit(Decision("credit", "gbm", "3", {"score": 0.5}, subject=f"applicant-{i % subjects}",
                                outcome="deny" if i % 3 else "approve", reason_codes=["debt_ratio"],
                                inputs={"income_band": "B"}, personal={"name": f"P{i}"}, latency_ms=1.0))
            for i in range(lo, min(n, lo + step))
        ]
        for f in futures:
            f.result(300)
    return (n - have) / (time.perf_counter() - start)


def verify_seconds(log: AuditLog, url: str, workers: int) -> dict[tuple[str, int], float]:
    """(verifier, workers) -> median of 3 runs, the two verifiers alternating."""
    checks = {LIBRARY: lambda: log.verify(workers=workers),
              CLI: lambda: verify_log(url, log.signer.public, workers=workers)}
    runs: dict[str, list[float]] = {name: [] for name in checks}
    for _ in range(3):
        for name, check in checks.items():
            report = check()
            assert report.ok, report.text()
            runs[name].append(report.seconds)
    return {(name, workers): statistics.median(r) for name, r in runs.items()}


def lookups(log: AuditLog, subjects: int) -> dict[str, float]:
    """Query by raw subject (10 hits each): first time and repeated, in seconds."""
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
    return {"first time (median)": statistics.median(cold), "repeated (median)": statistics.median(warm),
            "first time (p99)": sorted(cold)[int(len(cold) * 0.99) - 1]}


def grow(url: str, base: Path, sizes: list[int], workers: list[int]) -> tuple[dict[int, dict], dict[str, float]]:
    """size -> {"build": records/s or None, (verifier, workers): seconds}; and the lookups at the largest size."""
    subjects = sizes[-1] // 10
    settings = AuditSettings(store_url=url, max_batch=10_000, queue_size=60_000, checkpoint_every=100_000)
    log = AuditLog.open(settings, base_dir=base)
    results: dict[int, dict] = {}
    try:
        for size in sizes:
            have = log.store.head()[0]
            results[size] = {"build": build(log, have, size, subjects) if have < size else None}
            log.checkpoint()  # `mlobs audit verify` wants every record under a signed checkpoint
            for w in workers:
                results[size].update(verify_seconds(log, url, w))
            timed = ", ".join(f"{k[0]}, {k[1]}: {t:.2f} s" for k, t in results[size].items() if k != "build")
            print(f"{url.split(':')[0]} {size:,}: {timed}", file=sys.stderr)
        return results, lookups(log, subjects)
    finally:
        log.close()


def duration(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds >= 1 else f"{seconds * 1e3:,.0f} ms"


def processes(workers: int) -> str:
    return f"{workers} process{'es' if workers > 1 else ''}"


def tables(results: dict[str, dict[int, dict]], workers: list[int], found: dict[str, float]) -> str:
    columns = [(name, w) for name in (LIBRARY, CLI) for w in workers]
    rows = ["| backend | records | build through the writer (10,000 per commit) | "
            + " | ".join(f"`{name}`, {processes(w)}" for name, w in columns) + " |",
            "|---|---:|---:|" + "---:|" * len(columns)]
    for backend, by_size in results.items():
        for size, r in by_size.items():
            build = f"{r['build']:,.0f} records/s" if r["build"] else "(kept from an earlier run)"
            rows.append(f"| {backend} | {size:,} | {build} | " + " | ".join(duration(r[c]) for c in columns) + " |")
    largest = max(next(iter(results.values())))
    rows += ["", f"| query by raw subject, 10 hits ({largest:,} records, SQLite) | time |", "|---|---:|"]
    rows += [f"| {name} | {seconds * 1e3:.3f} ms |" for name, seconds in found.items()]
    return "\n".join(rows)


def plot(results: dict[str, dict[int, dict]], workers: list[int]) -> str:
    fig, ax = figure(width=6.0, height=3.4)
    w = max(workers)
    for backend, colour in zip(results, (BASE, MUTED)):
        sizes = list(results[backend])
        for name, style in ((LIBRARY, "-"), (CLI, "--")):
            seconds = [results[backend][s][(name, w)] for s in sizes]
            ax.plot(sizes, seconds, style, marker="o", color=colour, label=f"{backend}, {name}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    sizes = sorted({s for by_size in results.values() for s in by_size})
    ax.set_xticks(sizes, labels=[f"{s:,}" for s in sizes])
    ax.minorticks_off()
    ax.set_xlabel("records in the log")
    ax.set_ylabel(f"verify the whole log, {processes(w)} (s)")
    ax.set_title("Audit log: time to verify the whole log against its size")
    ax.legend(loc="upper left")
    return save_figure(fig, "audit-verify", "python benchmarks/audit/bench_million.py --write-docs")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000,1000000", help="log sizes to verify at, ascending")
    parser.add_argument("--keep", type=Path, help="reuse or keep the SQLite log in this directory")
    parser.add_argument("--postgres",
                        help="a postgresql:// URL to benchmark as well, or `local` for a throwaway server")
    docs_arguments(parser)
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    workers = sorted({1, os.cpu_count() or 1})
    base = args.keep or Path(tempfile.mkdtemp(prefix="mlobs-audit-bench-"))
    results: dict[str, dict[int, dict]] = {}
    try:
        results[SQLITE], found = grow(f"sqlite:///{base / 'audit.db'}", base, sizes, workers)
        with postgres(args.postgres) as pg_url:
            if pg_url:
                results[POSTGRES], _ = grow(fresh_schema(pg_url, "bench_verify"), base / "pg", sizes, workers)
    finally:
        if not args.keep:  # 750 MB a million records: a scratch log goes with its run
            shutil.rmtree(base, ignore_errors=True)
    markdown = tables(results, workers, found) + (
        f"\n\n`python benchmarks/audit/bench_million.py --sizes {args.sizes}"
        f"{' --postgres' if args.postgres else ''}`, {time.strftime('%Y-%m-%d')}. {args.note}")
    publish(markdown, "audit-verify", args.write_docs, figure=lambda: plot(results, workers))


if __name__ == "__main__":
    main()
