"""Sentiment service bare vs fully instrumented, under the same load, in one run.

uvicorn (one worker) on CPU 0, load on CPU 1; rounds alternate the variants.
Throughput: wrk, 32 connections. Latency: a paced client at 200 req/s.
The audit log is off in every variant: this measures telemetry (and, in the last variant,
endpoint protection with its per-input OOD score) alone.

    python benchmarks/telemetry_overhead.py [--rounds 3] [--seconds 10] [--write-readme]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from harness import arguments, compare, pct, publish, trained  # noqa: E402
from support.otlp import OtlpSink  # noqa: E402

TEXTS = [
    "The room was spotless and the staff were friendly, but breakfast was a bit bland.",
    "Worst delivery ever, the box arrived crushed and support never answered.",
    "I ordered the pasta on Tuesday and it came with a side salad.",
    "Honestly the app is fast, clean and does exactly what it promises.",
]


def main() -> int:
    args = arguments()
    workdir, artifacts = trained("sentiment")
    base = {"MLOBS_ARTIFACTS_DIR": artifacts, "MLOBS_AUDIT__ENABLED": "false"}
    bodies = [{"text": t} for t in TEXTS]
    with OtlpSink() as sink:
        off = {"MLOBS_PROTECT__ENABLED": "false"}
        variants = {
            "bare (MLOBS_TELEMETRY_ENABLED=false)": {"MLOBS_TELEMETRY_ENABLED": "false"},
            "instrumented, traces not exported": off,
            "instrumented, traces exported by OTLP/HTTP": {**off, "OTEL_EXPORTER_OTLP_ENDPOINT": sink.url},
            "instrumented, exported, 10% of traces sampled": {
                **off, "OTEL_EXPORTER_OTLP_ENDPOINT": sink.url,
                "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"},
            "instrumented and exported, plus endpoint protection": {"OTEL_EXPORTER_OTLP_ENDPOINT": sink.url},
        }
        results = compare("sentiment", variants, bodies, workdir, args.rounds, args.seconds, base)

    bare = next(iter(results.values()))
    bare_rps, bare_p50 = statistics.median(bare["rps"]), pct(bare["lat"], 0.5)
    rows = [
        "| variant | throughput (req/s, median of rounds) | ratio to bare | p50 at 200 req/s | p99 at 200 req/s | p50 added |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        rps, p50, p99 = statistics.median(r["rps"]), pct(r["lat"], 0.5), pct(r["lat"], 0.99)
        rows.append(f"| {name} | {rps:,.0f} | {rps / bare_rps:.2f} | {p50 * 1e6:,.0f} µs | {p99 * 1e6:,.0f} µs "
                    f"| {(p50 - bare_p50) * 1e6:+,.0f} µs |")
    table = "\n".join(rows) + (
        f"\n\n{args.rounds} alternating rounds of {args.seconds} s each; uvicorn on CPU 0, load on CPU 1; "
        f"`python benchmarks/telemetry_overhead.py`, {time.strftime('%Y-%m-%d')}."
    )
    publish(table, "telemetry", args.write_readme)
    return 0


if __name__ == "__main__":
    sys.exit(main())
