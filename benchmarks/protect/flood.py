"""A well-behaved client alone, then while another client floods the same service, in one run.

uvicorn (one worker, the protected sentiment service) on CPU 0; the load on CPU 1: the good client
paces one request at a time at --rate; the flooder is wrk with 64 connections on its own key.
Goal: the good client's p99 under 200 ms and its throughput at least 0.8 of alone.

    python benchmarks/protect/flood.py [--seconds 15] [--rate 50]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
from harness import paced_client, pct, serving  # noqa: E402

from mlobs.protect import hash_key  # noqa: E402

GOOD_KEY, FLOOD_KEY = "bench-good-" + "g" * 32, "bench-flood-" + "f" * 32
TEXTS = ["The room was spotless and the staff were friendly, but breakfast was a bit bland.",
         "Worst delivery ever, the box arrived crushed and support never answered.",
         "Honestly the app is fast, clean and does exactly what it promises."]


def good_client(url: str, seconds: float, rate: float) -> tuple[list[float], int, int]:
    """(latencies of 200s, answers that were not 200, requests sent)."""
    os.sched_setaffinity(0, {1})
    return paced_client(url, seconds, rate, GOOD_KEY, lambda i: {"text": TEXTS[i % len(TEXTS)]})


def flood(url: str, seconds: float, workdir: Path) -> subprocess.Popen:
    script = workdir / "flood.lua"
    script.write_text('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                      f'wrk.headers["Authorization"] = "Bearer {FLOOD_KEY}"\n'
                      f'wrk.body = {json.dumps(json.dumps({"text": TEXTS[0]}))}\n')
    return subprocess.Popen(["taskset", "-c", "1", "wrk", "-t1", "-c64", f"-d{int(seconds) + 2}s", "-s",
                             str(script), f"{url}/predict"], stdout=subprocess.PIPE, text=True)


LIMITS = {"RATE_PER_S": "100", "BURST": "200", "MAX_CONCURRENCY": "4"}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--rate", type=float, default=50)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="mlobs-flood-"))
    # The real service as `mlobs serve` runs it: protection configured from the environment.
    env = {"MLOBS_PROTECT__API_KEYS": json.dumps({"good": hash_key(GOOD_KEY), "flood": hash_key(FLOOD_KEY)}),
           **{f"MLOBS_PROTECT__{k}": v for k, v in LIMITS.items()}}
    with serving("sentiment", env) as url:
        good_client(url, 2, args.rate)  # warm-up
        alone = good_client(url, args.seconds, args.rate)
        flooder = flood(url, args.seconds, workdir)
        time.sleep(1)
        flooded = good_client(url, args.seconds, args.rate)
        wrk_out = flooder.communicate()[0]
        metrics = httpx.get(f"{url}/metrics").text
    flood_rps = float(re.search(r"Requests/sec:\s+([\d.]+)", wrk_out).group(1))
    limited = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                  if line.startswith("mlobs_rate_limited_total") and 'client="flood"' in line)
    served = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                 if line.startswith("mlobs_client_requests_total") and 'client="flood"' in line
                 and 'status="200"' in line)
    rows = []
    for name, (lat, failed, sent) in (("alone", alone), ("while another client floods", flooded)):
        p50, p99 = (pct(lat, 0.5) * 1000, pct(lat, 0.99) * 1000) if lat else (float("nan"), float("nan"))
        rows.append((name, len(lat) / args.seconds, p50, p99, failed, sent))  # no 200 at all: the goal is missed
    ratio = rows[1][1] / rows[0][1]
    print(f"\nFlood benchmark: protected sentiment service, uvicorn 1 worker on CPU 0, load on CPU 1, "
          f"good client paced at {args.rate:g} req/s, {args.seconds:g} s per phase, limits "
          f"{LIMITS['RATE_PER_S']}/s burst {LIMITS['BURST']} in-flight {LIMITS['MAX_CONCURRENCY']} per client.\n")
    print("| good client | throughput (req/s) | p50 (ms) | p99 (ms) | non-200 | sent |")
    print("|---|---|---|---|---|---|")
    for name, rps, p50, p99, failed, sent in rows:
        print(f"| {name} | {rps:.1f} | {p50:.1f} | {p99:.1f} | {failed} | {sent} |")
    print(f"\nFlooder (wrk, 64 connections): {flood_rps:.0f} req/s offered and answered; {served:.0f} served (200), "
          f"{limited:.0f} refused with 429.")
    ok = rows[1][3] < 200 and ratio >= 0.8
    print(f"Throughput ratio flooded/alone: {ratio:.2f}; p99 under flood {rows[1][3]:.1f} ms: "
          f"{'goal met' if ok else 'GOAL MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
