"""What a shared feedback store costs the sentiment service on the request path, as server CPU per request.

Variants: predictions held in memory (the default), in a SQLite file, in PostgreSQL (a throwaway local
server unless --postgres URL). The three servers run at once; each round bursts them in rotating order
(wrk from CPU 1, uvicorn on CPU 0), and the server's CPU is utime+stime from /proc/PID/stat over the burst,
its writer thread included, divided by the requests answered. The figure is each store's CPU per request
minus the in-memory one's in the same round, with a bootstrap interval over rounds. The database server's
own CPU is not in it.

    python benchmarks/feedback_store.py [--rounds 8] [--seconds 3] [--postgres local|URL]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "audit"))
from harness import trained, wrk_script  # noqa: E402
from pg_server import postgres  # noqa: E402
from protect.services import metric  # noqa: E402
from telemetry_overhead import TEXTS, burst, start  # noqa: E402

MEMORY = "in memory"


def interval(values: list[float], level: float = 0.90, resamples: int = 4000) -> tuple[float, float]:
    rng = random.Random(0)
    means = sorted(statistics.mean(rng.choices(values, k=len(values))) for _ in range(resamples))
    tail = (1 - level) / 2
    return means[int(tail * resamples)], means[min(resamples - 1, int((1 - tail) * resamples))]


def run(rounds: int, seconds: int, pg_url: str) -> dict[str, list[float]]:
    workdir, artifacts = trained("sentiment")
    scratch = Path(tempfile.mkdtemp(prefix="mlobs-feedback-bench-"))
    base = {"MLOBS_ARTIFACTS_DIR": artifacts, "MLOBS_AUDIT__ENABLED": "false", "MLOBS_ACCESS_LOG": "false",
            "MLOBS_PROTECT__ENABLED": "false"}
    variants = {MEMORY: {}, "SQLite file": {"MLOBS_FEEDBACK__STORE_URL": f"sqlite:///{scratch / 'feedback.db'}"},
                "PostgreSQL": {"MLOBS_FEEDBACK__STORE_URL": pg_url}}
    script = wrk_script([{"text": t} for t in TEXTS], workdir / "bodies.lua")
    servers, cpu = {}, {name: [] for name in variants}
    try:
        for i, (name, env) in enumerate(variants.items()):
            servers[name] = start(None, {**base, **env}, workdir / f"service-{i}.log")
        for process, url in servers.values():
            burst(process.pid, url, 2, script)  # warm-up
        names = list(variants)
        for round_ in range(rounds):
            order = names[round_ % len(names):] + names[:round_ % len(names)]
            for name in order:
                process, url = servers[name]
                cpu[name].append(burst(process.pid, url, seconds, script)[0])
                time.sleep(0.5)
            print(f"round {round_ + 1}: " + ", ".join(f"{n} {v[-1]:.0f} µs" for n, v in cpu.items()), file=sys.stderr)
        for name, (_, url) in servers.items():
            dropped = metric(url, "mlobs_telemetry_dropped_total", signal="feedback") or 0
            print(f"{name}: {dropped:.0f} predictions dropped by the feedback store", file=sys.stderr)
    finally:
        for process, _ in servers.values():
            process.terminate()
            process.wait()
    return cpu


def table(cpu: dict[str, list[float]], rounds: int, seconds: int) -> str:
    rows = ["| predictions held | CPU per request (median) | added over in memory (mean, 90% interval) |",
            "|---|---|---|"]
    for name, values in cpu.items():
        if name == MEMORY:
            rows.append(f"| {name} | {statistics.median(values):,.0f} µs | |")
            continue
        added = [v - m for v, m in zip(values, cpu[MEMORY])]
        low, high = interval(added)
        rows.append(f"| {name} | {statistics.median(values):,.0f} µs | {statistics.mean(added):+,.0f} µs "
                    f"({low:+,.0f} to {high:+,.0f}) |")
    return "\n".join(rows) + (f"\n\n{rounds} interleaved rounds of {seconds} s bursts per variant (wrk, 32 "
                              f"connections, CPU 1; uvicorn, CPU 0). `python benchmarks/feedback_store.py`, "
                              f"{time.strftime('%Y-%m-%d')}.")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--postgres", default="local", help="a PostgreSQL URL, or local for a throwaway server")
    args = parser.parse_args()
    with postgres(args.postgres) as pg_url:
        cpu = run(args.rounds, args.seconds, pg_url)
    print(table(cpu, args.rounds, args.seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
