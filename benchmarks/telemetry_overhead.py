"""What telemetry costs the sentiment service, as server CPU per request, in one interleaved run.

Variants: bare (no telemetry), mlobs with traces not exported, exported by OTLP/HTTP to a local
sink, exported with 10% of traces sampled, exported with the inference timing on the request span
instead of a child span, and the stack a user would otherwise assemble (benchmarks/standard_stack.py)
exported to the same sink. Every variant's server runs at once, idle but for its own bursts; each
round opens and closes with a burst on the bare service and runs the others in rotating order; each
burst is `wrk` from CPU 1 against uvicorn on CPU 0, and the server's CPU is utime+stime from
/proc/PID/stat over the burst (its background export threads included) divided by the requests
answered. Wall-clock throughput on a shared machine swings by tens of percent between bursts; CPU
per request does not, so it is the figure to compare, with throughput beside it.

    python benchmarks/telemetry_overhead.py [--rounds 12] [--seconds 2] [--write-docs]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))
from docs_page import docs_arguments, publish  # noqa: E402
from harness import trained, wrk_script  # noqa: E402
from overhead import cpu_cells, overhead_figure  # noqa: E402
from support.otlp import OtlpSink  # noqa: E402

from mlobs.local.ports import free_port, wait_for_http  # noqa: E402

DOC = HERE.parent / "docs" / "benchmarks-telemetry.md"
TICK_S = 1 / os.sysconf("SC_CLK_TCK")
TEXTS = [
    "The room was spotless and the staff were friendly, but breakfast was a bit bland.",
    "Worst delivery ever, the box arrived crushed and support never answered.",
    "I ordered the pasta on Tuesday and it came with a side salad.",
    "Honestly the app is fast, clean and does exactly what it promises.",
]
BARE = "bare (no telemetry)"
STANDARD = "standard stack, exported"


def variants(sink_url: str) -> dict[str, tuple[list[str] | None, dict]]:
    """name -> (command, or None for `mlobs serve sentiment`; environment)."""
    off = {"MLOBS_PROTECT__ENABLED": "false"}
    exported = {**off, "OTEL_EXPORTER_OTLP_ENDPOINT": sink_url}
    standard = [sys.executable, "-m", "uvicorn", "standard_stack:app", "--app-dir", str(HERE), "--no-access-log"]
    return {
        BARE: (None, {**off, "MLOBS_TELEMETRY_ENABLED": "false"}),
        "mlobs, not exported": (None, off),
        "mlobs, exported (OTLP/HTTP)": (None, exported),
        "mlobs, exported, 10% sampled": (None, {**exported, "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
                                                "OTEL_TRACES_SAMPLER_ARG": "0.1"}),
        "mlobs, exported, one span (MLOBS_INFERENCE_SPAN=false)": (None, {**exported,
                                                                         "MLOBS_INFERENCE_SPAN": "false"}),
        STANDARD: (standard, {**off, "MLOBS_TELEMETRY_ENABLED": "false",
                                                "OTEL_EXPORTER_OTLP_ENDPOINT": sink_url}),
    }


def start(command: list[str] | None, env: dict, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = command or [sys.executable, "-m", "mlobs.cli", "serve", "sentiment"]
    process = subprocess.Popen(["taskset", "-c", "0", *command, "--host", "127.0.0.1", "--port", str(port)],
                               env={**os.environ, **env}, stdout=open(log, "ab"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_for_http(f"{url}/healthz", 120)
    return process, url


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * TICK_S  # utime, stime (fields 14 and 15)


def burst(pid: int, url: str, seconds: int, script: Path) -> tuple[float, float]:
    """(CPU µs per request, requests per second) over one wrk burst."""
    before = cpu_seconds(pid)
    out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", "-c32", f"-d{seconds}s", "-s", str(script),
                          f"{url}/predict"], capture_output=True, text=True, check=True).stdout
    after = cpu_seconds(pid)
    if "Non-2xx" in out:
        raise SystemExit(f"errors under load:\n{out}")
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return (after - before) / requests * 1e6, rps


def run(rounds: int, seconds: int) -> dict[str, dict[str, list[float]]]:
    workdir, artifacts = trained("sentiment")
    base = {"MLOBS_ARTIFACTS_DIR": artifacts, "MLOBS_AUDIT__ENABLED": "false"}
    script = wrk_script([{"text": t} for t in TEXTS], workdir / "bodies.lua")
    results: dict[str, dict[str, list[float]]] = {}
    with OtlpSink() as sink:
        servers = {}
        try:
            for i, (name, (command, env)) in enumerate(variants(sink.url).items()):
                servers[name] = start(command, {**base, **env}, workdir / f"service-{i}.log")
                results[name] = {"cpu_us": [], "rps": []}
            for process, url in servers.values():
                burst(process.pid, url, 2, script)  # warm-up
            others = [n for n in servers if n != BARE]
            for round_ in range(rounds):
                # The bare service opens and closes every round (its figure is their mean) and the
                # others rotate, so a machine that speeds up or slows down within a round biases none.
                order = [BARE, *others[round_ % len(others):], *others[:round_ % len(others)], BARE]
                bare = []
                for name in order:
                    process, url = servers[name]
                    cpu, rps = burst(process.pid, url, seconds, script)
                    if name == BARE:
                        bare.append((cpu, rps))
                    else:
                        results[name]["cpu_us"].append(cpu)
                        results[name]["rps"].append(rps)
                    time.sleep(0.5)
                results[BARE]["cpu_us"].append(statistics.mean(c for c, _ in bare))
                results[BARE]["rps"].append(statistics.mean(r for _, r in bare))
                print(f"round {round_ + 1}: " + ", ".join(f"{n} {r['cpu_us'][-1]:.0f} µs" for n, r in results.items()),
                      file=sys.stderr)
        finally:
            for process, _ in servers.values():
                process.terminate()
                process.wait()
    return results


def table(results: dict[str, dict[str, list[float]]], rounds: int, seconds: int, note: str) -> str:
    bare_cpu = results[BARE]["cpu_us"]
    bare_rps = results[BARE]["rps"]
    rows = ["| variant | CPU per request (median) | added over bare (median of rounds) | added, range of rounds "
            "| throughput (median) | throughput / bare (range) |",
            "|---|---|---|---|---|---|"]
    for name, r in results.items():
        ratios = [x / b for x, b in zip(r["rps"], bare_rps)]
        rows.append(f"| {name} | {cpu_cells(r['cpu_us'], bare_cpu, name == BARE)} "
                    f"| {statistics.median(r['rps']):,.0f} req/s | {min(ratios):.2f}-{max(ratios):.2f} |")
    return "\n".join(rows) + (
        f"\n\n{rounds} interleaved rounds of {seconds} s bursts per variant (wrk, 32 connections, CPU 1; uvicorn, "
        f"CPU 0); each round's figure is paired with the bare service's in the same round (the mean of a burst "
        f"at the round's start and one at its end; the other variants' order rotates). "
        f"`python benchmarks/telemetry_overhead.py`, {time.strftime('%Y-%m-%d')}. {note}"
    )


def figure(results: dict[str, dict[str, list[float]]]) -> str:
    cpu = {name: r["cpu_us"] for name, r in results.items()}
    return overhead_figure(cpu, BARE, "telemetry-overhead", "Sentiment service: server CPU added by telemetry",
                           "python benchmarks/telemetry_overhead.py --write-docs", highlight=STANDARD)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--seconds", type=int, default=2)
    docs_arguments(parser, DOC)
    args = parser.parse_args()
    results = run(args.rounds, args.seconds)
    publish(table(results, args.rounds, args.seconds, args.note), "telemetry", args.write_docs, DOC,
            lambda: figure(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
