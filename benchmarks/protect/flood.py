"""A well-behaved client alone, then while another client floods the same service, in one run.

uvicorn (one worker, the protected sentiment service) on CPU 0; the load on CPU 1: the good client
paces one request at a time at --rate; the flooder is wrk with 64 connections on its own key.
Two ways in, each its own service: direct (the clients at their own addresses, 127.0.0.2 and
127.0.0.1, each capped per address) and behind one reverse proxy (both from 127.0.0.1, set as
MLOBS_PROTECT__TRUSTED_PROXIES: only their keys tell them apart).
Goal, both ways: the good client's p99 under 200 ms and its throughput at least 0.8 of alone.

    python benchmarks/protect/flood.py [--seconds 15] [--rate 50] [--write-docs]
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
from docs_page import docs_arguments, publish  # noqa: E402
from harness import paced_client, pct, serving  # noqa: E402

from mlobs.protect import hash_key  # noqa: E402

GOOD_KEY, FLOOD_KEY = "bench-good-" + "g" * 32, "bench-flood-" + "f" * 32
TEXTS = ["The room was spotless and the staff were friendly, but breakfast was a bit bland.",
         "Worst delivery ever, the box arrived crushed and support never answered.",
         "Honestly the app is fast, clean and does exactly what it promises."]


def good_client(url: str, seconds: float, rate: float, address: str) -> tuple[list[float], int, int]:
    """(latencies of 200s, answers that were not 200, requests sent)."""
    os.sched_setaffinity(0, {1})
    return paced_client(url, seconds, rate, GOOD_KEY, lambda i: {"text": TEXTS[i % len(TEXTS)]}, address)


def flood(url: str, seconds: float, workdir: Path) -> subprocess.Popen:
    """wrk from 127.0.0.1 (it cannot choose its source address)."""
    script = workdir / "flood.lua"
    script.write_text('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                      f'wrk.headers["Authorization"] = "Bearer {FLOOD_KEY}"\n'
                      f'wrk.body = {json.dumps(json.dumps({"text": TEXTS[0]}))}\n')
    return subprocess.Popen(["taskset", "-c", "1", "wrk", "-t1", "-c64", f"-d{int(seconds) + 2}s", "-s",
                             str(script), f"{url}/predict"], stdout=subprocess.PIPE, text=True)


LIMITS = {"RATE_PER_S": "100", "BURST": "200", "MAX_CONCURRENCY": "4"}
WAYS = {  # name -> (the good client's address, extra service environment)
    "direct": ("127.0.0.2", {}),
    "behind one proxy": ("127.0.0.1", {"MLOBS_PROTECT__TRUSTED_PROXIES": '["127.0.0.1"]'}),
}


def series(metrics: str, name: str, *labels: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
               if line.startswith(name) and all(label in line for label in labels))


def one_way(address: str, extra: dict, seconds: float, rate: float, workdir: Path) -> dict:
    # The real service as `mlobs serve` runs it: protection configured from the environment.
    env = {"MLOBS_PROTECT__API_KEYS": json.dumps({"good": hash_key(GOOD_KEY), "flood": hash_key(FLOOD_KEY)}),
           **{f"MLOBS_PROTECT__{k}": v for k, v in LIMITS.items()}, **extra}
    with serving("sentiment", env) as url:
        good_client(url, 2, rate, address)  # warm-up
        alone = good_client(url, seconds, rate, address)
        flooder = flood(url, seconds, workdir)
        time.sleep(1)
        flooded = good_client(url, seconds, rate, address)
        wrk_out = flooder.communicate()[0]
        metrics = httpx.get(f"{url}/metrics").text
    return {"alone": alone, "while another client floods": flooded,
            "flood_rps": float(re.search(r"Requests/sec:\s+([\d.]+)", wrk_out).group(1)),
            "served": series(metrics, "mlobs_client_requests_total", 'client="flood"', 'status="200"'),
            "limited": series(metrics, "mlobs_rate_limited_total", 'client="flood"'),
            "capped": series(metrics, "mlobs_connections_refused_total", 'reason="per_address_cap"')}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--rate", type=float, default=50)
    docs_arguments(parser)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="mlobs-flood-"))
    lines = [f"Flood benchmark: protected sentiment service, uvicorn 1 worker on CPU 0, load on CPU 1, good client "
             f"paced at {args.rate:g} req/s, {args.seconds:g} s per phase, limits {LIMITS['RATE_PER_S']}/s burst "
             f"{LIMITS['BURST']} in-flight {LIMITS['MAX_CONCURRENCY']} per client, 64 connections per address. "
             f"{args.note}".strip(), "",
             "| way in | good client | throughput (req/s) | p50 (ms) | p99 (ms) | non-200 | sent |",
             "|---|---|---|---|---|---|---|"]
    notes, met = [], True
    for way, (address, extra) in WAYS.items():
        run = one_way(address, extra, args.seconds, args.rate, workdir)
        rps = {}
        for phase in ("alone", "while another client floods"):
            lat, failed, sent = run[phase]
            p50, p99 = (pct(lat, 0.5) * 1000, pct(lat, 0.99) * 1000) if lat else (float("nan"), float("nan"))
            rps[phase] = (len(lat) / args.seconds, p99)
            lines.append(f"| {way} | {phase} | {rps[phase][0]:.1f} | {p50:.1f} | {p99:.1f} | {failed} | {sent} |")
        ratio = rps["while another client floods"][0] / rps["alone"][0]
        p99 = rps["while another client floods"][1]
        ok = p99 < 200 and ratio >= 0.8  # a nan p99 (no 200 at all) is not under 200
        met = met and ok
        notes.append(f"{way}: the flooder (wrk, 64 connections) got {run['flood_rps']:.0f} req/s answered, "
                     f"{run['served']:.0f} served (200), {run['limited']:.0f} refused with 429, "
                     f"{run['capped']:.0f} connections over the per-address cap; the good client at "
                     f"{ratio:.2f} of alone, p99 {p99:.1f} ms: {'goal met' if ok else 'GOAL MISSED'}.")
    lines += ["", *notes, "", f"`python benchmarks/protect/flood.py`, {time.strftime('%Y-%m-%d')}."]
    publish("\n".join(lines), "flood", args.write_docs)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
