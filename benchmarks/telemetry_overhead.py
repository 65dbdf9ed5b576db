"""Sentiment service bare vs fully instrumented, under the same load, in one run.

Server pinned to CPU 0 (uvicorn, one worker), load from CPU 1. Rounds alternate
bare and instrumented so drift in the machine hits both. Throughput: wrk, 32
connections, closed loop. Latency: a paced client at a moderate rate (200 req/s).

    python benchmarks/telemetry_overhead.py [--rounds 3] [--seconds 10] [--write-readme]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support.otlp import OtlpSink  # noqa: E402

from mlobs.local.ports import free_port, wait_for_http  # noqa: E402

TEXT = "The room was spotless and the staff were friendly, but breakfast was a bit bland."
LUA = """wrk.method = "POST"
wrk.body = '{"text": "%s"}'
wrk.headers["Content-Type"] = "application/json"
""" % TEXT


def start_service(env: dict, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        ["taskset", "-c", "0", sys.executable, "-m", "mlobs.cli", "serve", "sentiment", "--port", str(port)],
        env={**os.environ, **env}, stdout=open(log, "ab"), stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    wait_for_http(f"{url}/healthz", 60)
    return process, url


def throughput(url: str, seconds: int, lua: Path) -> float:
    out = subprocess.run(
        ["taskset", "-c", "1", "wrk", "-t1", "-c32", f"-d{seconds}s", "-s", str(lua), f"{url}/predict"],
        capture_output=True, text=True, check=True,
    ).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"errors under load:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def paced_latencies(url: str, seconds: int, rate: float = 200.0) -> list[float]:
    os.sched_setaffinity(0, {1})
    latencies, interval = [], 1.0 / rate
    with httpx.Client(base_url=url) as client:
        for _ in range(50):  # warm the connection
            client.post("/predict", json={"text": TEXT})
        next_at = time.perf_counter()
        end = next_at + seconds
        while next_at < end:
            delay = next_at - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            t0 = time.perf_counter()
            client.post("/predict", json={"text": TEXT}).raise_for_status()
            latencies.append(time.perf_counter() - t0)
            next_at += interval
    return latencies


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="mlobs-bench-"))
    artifacts = os.environ.get("MLOBS_ARTIFACTS_DIR", str(workdir / "artifacts"))
    subprocess.run([sys.executable, "-m", "mlobs.cli", "train", "sentiment", "--quiet"],
                   env={**os.environ, "MLOBS_ARTIFACTS_DIR": artifacts}, check=True)
    lua = workdir / "post.lua"
    lua.write_text(LUA)

    with OtlpSink() as sink:
        variants = {
            "bare (MLOBS_TELEMETRY_ENABLED=false)": {"MLOBS_TELEMETRY_ENABLED": "false"},
            "instrumented, traces not exported": {},
            "instrumented, traces exported by OTLP/HTTP": {"OTEL_EXPORTER_OTLP_ENDPOINT": sink.url},
        }
        results = {name: {"rps": [], "lat": []} for name in variants}
        for round_ in range(args.rounds):
            for name, env in variants.items():
                process, url = start_service({"MLOBS_ARTIFACTS_DIR": artifacts, **env}, workdir / "service.log")
                try:
                    throughput(url, 2, lua)  # warm-up
                    results[name]["rps"].append(throughput(url, args.seconds, lua))
                    results[name]["lat"].extend(paced_latencies(url, args.seconds))
                finally:
                    process.terminate()
                    process.wait()
                print(f"round {round_ + 1} {name}: {results[name]['rps'][-1]:.0f} req/s", file=sys.stderr)

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
    print(table)
    if args.write_readme:
        from readme import write_section

        write_section("telemetry", table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
