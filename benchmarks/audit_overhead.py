"""Credit endpoint with the audit log off and on (SQLite, durable, group commit), in one run.

    python benchmarks/audit_overhead.py [--rounds 24] [--seconds 4] [--write-docs]

Rounds are cycles of short bursts, one per variant, with every variant's service running.
"""

from __future__ import annotations

import statistics
import sys
import time

from harness import arguments, interleave, pct, publish, ratio_interval, trained

from mlobs_services.credit import data


def main() -> int:
    args = arguments(rounds=24, seconds=4)
    workdir, artifacts = trained("credit")
    bodies = [{k: r[k] for k in ("applicant_id", "personal", "features")} for r in data.generate(500, seed=123)]

    def audit_on(name: str) -> dict:
        # A store per variant: the services run side by side, and neither does the other's indexing.
        return {"MLOBS_AUDIT__STORE_URL": f"sqlite:///{workdir / name / 'audit.db'}",
                "MLOBS_AUDIT__KEYS_DIR": str(workdir / name / "keys")}

    new_applicants = "audit on, every request a new applicant"
    variants = {
        "audit off": {"MLOBS_AUDIT__ENABLED": "false"},
        "audit on (SQLite WAL, synchronous=FULL)": audit_on("recurring"),
        new_applicants: audit_on("new"),
    }
    results = interleave("credit", variants, bodies, workdir, args.rounds, args.seconds,
                         {"MLOBS_ARTIFACTS_DIR": artifacts, "MLOBS_ACCESS_LOG": "true"},
                         new_field={new_applicants: "applicant_id"})
    off = next(iter(results.values()))["rps"]
    rows = ["| credit endpoint | throughput (req/s) | ratio to audit off (90% interval) | p50 at 200 req/s "
            "| p99 at 200 req/s | p50 / p99 under full load |",
            "|---|---|---|---|---|---|"]
    for name, r in results.items():
        ratio, low, high = ratio_interval(r["rps"], off)
        interval = f" ({low:.3f} to {high:.3f})" if r["rps"] is not off else ""
        rows.append(f"| {name} | {statistics.mean(r['rps']):,.0f} | {ratio:.3f}{interval} "
                    f"| {pct(r['lat'], 0.5) * 1e3:.2f} ms | {pct(r['lat'], 0.99) * 1e3:.2f} ms "
                    f"| {statistics.median(r['load_p50']) * 1e3:.0f} / "
                    f"{statistics.median(r['load_p99']) * 1e3:.0f} ms |")
    table = "\n".join(rows) + (
        f"\n\nThe three services run side by side, uvicorn pinned to CPU 0, wrk (32 connections) on CPU 1; "
        f"{args.rounds} cycles of one {args.seconds} s burst of load per service in turn, 1.5 s apart; throughput "
        f"is the mean over a service's bursts, the ratio that of the means, and its interval a bootstrap over "
        f"the cycles. 500 distinct applicants, sent again and again (their subject keys exist after the "
        f"first burst), or, in the last row, an applicant id never sent before in every request (a new "
        f"subject key each time); each audit-on service has its own log and key store. At 200 req/s one "
        f"request at a time (a lone caller: its record never waits for others), three rounds of 10 s; under "
        f"full load, wrk's median and p99 over its 32 connections (medians of the bursts), where a record "
        f"shares its commit with every record that arrived while the previous commit ran. "
        f"`python benchmarks/audit_overhead.py --rounds {args.rounds} --seconds {args.seconds}`, "
        f"{time.strftime('%Y-%m-%d')}."
    )
    publish(table, "audit-endpoint", args.write_docs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
