"""Disk and memory of the credit service's audit log as decisions accumulate, every one from a new
applicant (the costliest case: a new pseudonym, subject key and mapping each time).

The service runs in this process (uvicorn on a thread) so that SQLite's own allocator can be read
beside the resident memory; wrk sends the load. Disk per decision is read from SQLite's dbstat
table: bytes of pages per table and index, divided by the records.

    python benchmarks/audit/bench_footprint.py --decisions 300000 [--write-docs]
"""

from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from docs_page import DOCS, docs_arguments, publish  # noqa: E402
from harness import trained, under_load, wrk_script  # noqa: E402

PAGE = DOCS / "audit-log.md"
LOG_TABLES = {  # dbstat names -> the row they are counted in
    "audit_records": "record", "audit_raw_rows": "raw",
    "audit_records_by_decision": "indexes", "audit_records_by_ts": "indexes", "audit_tree": "indexes",
    "audit_tree_heads": "indexes", "audit_checkpoints": "indexes",
}


def resident_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return float("nan")


def sqlite_mb() -> float:
    """SQLite's own allocations in this process (its page caches above all)."""
    lib = ctypes.CDLL("libsqlite3.so.0")
    lib.sqlite3_memory_used.restype = ctypes.c_int64
    return lib.sqlite3_memory_used() / 2**20


def pages_by_table(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return dict(conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"))
    finally:
        conn.close()


def records(path: Path) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT count(*) FROM audit_records "
                            "WHERE json_extract(header, '$[2]') = 'decision'").fetchone()[0]
    finally:
        conn.close()


def serve(workdir: Path):
    _, artifacts = trained("credit")
    os.environ.update({"MLOBS_ARTIFACTS_DIR": artifacts, "MLOBS_ACCESS_LOG": "false",
                       "MLOBS_AUDIT__STORE_URL": f"sqlite:///{workdir / 'audit.db'}",
                       "MLOBS_AUDIT__KEYS_DIR": str(workdir / "keys")})
    import uvicorn

    from mlobs import registry
    from mlobs.local.ports import free_port
    from mlobs.settings import get_settings

    app = registry.load("credit").create_app(get_settings())
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.1)
    return server, f"http://127.0.0.1:{port}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--decisions", type=int, default=300_000)
    parser.add_argument("--burst", type=int, default=10, help="seconds of load between two readings")
    docs_arguments(parser, PAGE)
    args = parser.parse_args()
    from mlobs_services.credit import data

    workdir = Path(tempfile.mkdtemp(prefix="mlobs-footprint-"))
    try:
        server, url = serve(workdir)
        bodies = [{k: r[k] for k in ("applicant_id", "personal", "features")} for r in data.generate(500, seed=123)]
        script = wrk_script(bodies, workdir / "bodies.lua", "applicant_id")
        readings, sent = [], 0
        while sent < args.decisions:
            sent += int(under_load(url, args.burst, script)["rps"] * args.burst)
            readings.append((sent, resident_mb(), sqlite_mb()))
            print(f"{sent:>9,} decisions: resident {readings[-1][1]:.0f} MB, SQLite {readings[-1][2]:.0f} MB",
                  file=sys.stderr, flush=True)
        server.should_exit = True
        time.sleep(2)
        n = records(workdir / "audit.db")
        by_row: dict[str, float] = {"record": 0, "indexes": 0, "raw": 0}
        for name, size in pages_by_table(workdir / "audit.db").items():
            if name in LOG_TABLES:
                by_row[LOG_TABLES[name]] += size
        lookup = sum(pages_by_table(workdir / "audit.lookup.db").values())
        keys = sum(p.stat().st_size for p in (workdir / "keys").glob("subject_keys*.db"))
        markdown = table(n, by_row, lookup, keys, readings, args)
        publish(markdown, "audit-footprint", args.write_docs, path=PAGE)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def table(n: int, by_row: dict[str, float], lookup: int, keys: int, readings, args) -> str:
    def kb(total: float) -> str:
        return f"{total / n / 1000:.2f} KB"

    rows = [
        "| what | per decision | kept |",
        "|---|---:|---|",
        f"| the record (header and payload, in 4 KB pages) | {kb(by_row['record'])} | for good: records cannot "
        "leave the chain |",
        f"| its decision-id and time indexes, Merkle tree nodes, signed heads, lookup | "
        f"{kb(by_row['indexes'] + lookup)} | for good |",
        f"| the raw request, encrypted | {kb(by_row['raw'])} | `MLOBS_AUDIT__RAW_RETENTION_DAYS` (7), then purged; "
        "later records reuse the pages |",
        f"| the subject key and pseudonym mapping, for a new applicant | {kb(keys)} | until `forget` |",
    ]
    picks = sorted({0, len(readings) // 3, 2 * len(readings) // 3, len(readings) - 1})
    memory = ", ".join(f"{readings[i][1]:.0f} MB after {readings[i][0]:,} decisions (SQLite {readings[i][2]:.0f} MB)"
                       for i in picks)
    note = f" {args.note}" if args.note else ""
    return ("\n".join(rows) + f"\n\n{n:,} decisions, each from a new applicant, through the real credit service. "
            f"Resident memory of the service's process: {memory}.{note} "
            f"`python benchmarks/audit/bench_footprint.py --decisions {args.decisions}`, {date.today().isoformat()}.")


if __name__ == "__main__":
    main()
