"""Credit endpoint with the audit log off and on (SQLite, durable, group commit), in one run.

    python benchmarks/audit_overhead.py [--rounds 3] [--seconds 10] [--write-readme]
"""

from __future__ import annotations

import statistics
import sys
import time

from harness import arguments, compare, pct, publish, trained

from mlobs_services.credit import data


def main() -> int:
    args = arguments()
    workdir, artifacts = trained("credit")
    bodies = [{k: r[k] for k in ("applicant_id", "personal", "features")} for r in data.generate(500, seed=123)]
    on = {"MLOBS_AUDIT__STORE_URL": f"sqlite:///{workdir / 'audit.db'}", "MLOBS_AUDIT__KEYS_DIR": str(workdir / "keys")}
    new_applicants = "audit on, every request a new applicant"
    variants = {
        "audit off": {"MLOBS_AUDIT__ENABLED": "false"},
        "audit on (SQLite WAL, synchronous=FULL)": on,
        new_applicants: on,
    }
    results = compare("credit", variants, bodies, workdir, args.rounds, args.seconds,
                      {"MLOBS_ARTIFACTS_DIR": artifacts, "MLOBS_ACCESS_LOG": "true"},
                      new_field={new_applicants: "applicant_id"})
    off = statistics.median(next(iter(results.values()))["rps"])
    rows = ["| credit endpoint | throughput (req/s) | ratio to audit off | p50 at 200 req/s | p99 at 200 req/s "
            "| p50 / p99 under full load |",
            "|---|---|---|---|---|---|"]
    for name, r in results.items():
        rps = statistics.median(r["rps"])
        rows.append(f"| {name} | {rps:,.0f} | {rps / off:.2f} | {pct(r['lat'], 0.5) * 1e3:.2f} ms "
                    f"| {pct(r['lat'], 0.99) * 1e3:.2f} ms | {statistics.median(r['load_p50']) * 1e3:.0f} / "
                    f"{statistics.median(r['load_p99']) * 1e3:.0f} ms |")
    table = "\n".join(rows) + (
        f"\n\n{args.rounds} alternating rounds of {args.seconds} s; uvicorn on CPU 0, wrk (32 connections) on CPU 1; "
        f"500 distinct applicants, sent again and again (their subject keys exist after the first round), or, in "
        f"the last row, an applicant id never sent before in every request (a new subject key each time). "
        f"At 200 req/s one request at a time (a lone caller: its record never waits for others); under full load, "
        f"wrk's median and p99 over its 32 connections (medians of the rounds), where a record waits up to "
        f"group_wait_s for others to share its commit. "
        f"`python benchmarks/audit_overhead.py --rounds {args.rounds}`, {time.strftime('%Y-%m-%d')}."
    )
    publish(table, "audit-endpoint", args.write_readme)
    return 0


if __name__ == "__main__":
    sys.exit(main())
