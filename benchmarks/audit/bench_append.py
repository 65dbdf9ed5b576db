"""Durable appends per second through AuditLog (pseudonym, encryption, chain, Merkle tree, group commit).

Usage: python benchmarks/audit/bench_append.py [--postgres URL|local] [--write-docs]
Prints a markdown table; --write-docs also draws appends/s against records per commit into
docs/img/audit-appends.svg and writes both into docs/benchmarks.md. Each batch size is the
writer's max_batch: records per commit.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from pg_server import fresh_schema, postgres

from mlobs.audit import AuditLog, AuditSettings, Decision

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from docs_page import BASE, MUTED, docs_arguments, figure, publish, save_figure  # noqa: E402

SIZES = {1: 500, 10: 3_000, 100: 20_000, 1_000: 60_000}
SQLITE, POSTGRES = "SQLite (WAL, synchronous=FULL)", "PostgreSQL"


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


def measure(pg_url: str | None) -> dict[str, dict[int, float]]:
    """backend -> records per commit -> durable appends per second."""
    rates: dict[str, dict[int, float]] = {SQLITE: {}}
    with tempfile.TemporaryDirectory() as tmp:
        for batch, n in SIZES.items():
            base = Path(tmp) / f"sqlite-{batch}"
            rates[SQLITE][batch] = run(f"sqlite:///{base / 'audit.db'}", base, batch, n)
            print(f"{SQLITE}, {batch} per commit: {rates[SQLITE][batch]:,.0f}/s", file=sys.stderr)
        if pg_url:
            rates[POSTGRES] = {}
            for batch, n in SIZES.items():
                url = fresh_schema(pg_url, f"bench_{batch}")
                rates[POSTGRES][batch] = run(url, Path(tmp) / f"pg-{batch}", batch, n)
                print(f"{POSTGRES}, {batch} per commit: {rates[POSTGRES][batch]:,.0f}/s", file=sys.stderr)
    return rates


def table(rates: dict[str, dict[int, float]]) -> str:
    rows = ["| backend | records per commit | durable appends/s |", "|---|---:|---:|"]
    rows += [f"| {backend} | {batch:,} | {rate:,.0f} |" for backend, r in rates.items() for batch, rate in r.items()]
    return "\n".join(rows)


def plot(rates: dict[str, dict[int, float]]) -> str:
    fig, ax = figure(width=6.0, height=3.4)
    for (backend, r), colour, offset in zip(rates.items(), (BASE, MUTED), (6, -13)):  # labels above, below
        ax.plot(list(r), list(r.values()), marker="o", color=colour, label=f"{backend}, with the Merkle tree")
        for batch, rate in r.items():
            ax.annotate(f"{rate:,.0f}", (batch, rate), xytext=(0, offset), textcoords="offset points", ha="center")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(list(SIZES), labels=[f"{b:,}" for b in SIZES])
    ax.margins(x=0.08, y=0.15)  # room for the labels above and below the ends
    ax.set_xlabel("records per commit (the writer's group)")
    ax.set_ylabel("durable appends per second")
    ax.set_title("Audit log: durable appends against records per commit")
    ax.legend(loc="lower right")
    return save_figure(fig, "audit-appends", "python benchmarks/audit/bench_append.py --write-docs")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres",
                        help="a postgresql:// URL to benchmark as well, or `local` for a throwaway server")
    docs_arguments(parser)
    args = parser.parse_args()
    with postgres(args.postgres) as pg_url:
        rates = measure(pg_url)
    markdown = table(rates) + (
        f"\n\nEach row commits its records in groups of that size through the real writer, every record "
        f"awaited as durable. `python benchmarks/audit/bench_append.py{' --postgres' if args.postgres else ''}`, "
        f"{time.strftime('%Y-%m-%d')}. {args.note}")
    publish(markdown, "audit-append", args.write_docs, figure=lambda: plot(rates))


if __name__ == "__main__":
    main()
