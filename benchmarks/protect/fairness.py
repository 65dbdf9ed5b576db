"""Fair sharing: a light client alone, then beside a heavy client, against one sentiment service.

uvicorn (one worker, `mlobs serve sentiment`, protection on) on CPU 0; both clients on CPU 1. The
light client paces single short texts at --rate; the heavy client keeps --heavy-concurrency
requests of 64-text batches in flight on its own key. Large requests run on the worker pool, where
the heavy client holds at most its share (mlobs.protect.workers).
Goal: the light client's p99 beside the heavy client at most 3x its p99 alone.

    python benchmarks/protect/fairness.py [--seconds 10] [--rate 40] [--heavy-concurrency 12] [--inline]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path

import httpx

from mlobs.protect import hash_key

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
# benchmarks/harness.py is importable only once benchmarks/ is on the path.
from harness import paced_client, pct, serving  # noqa: E402

LIGHT_KEY, HEAVY_KEY = "bench-light-" + "l" * 32, "bench-heavy-" + "h" * 32
TEXT = "The room was spotless and the staff were friendly, but breakfast was a bit bland."
BATCH = [f"{TEXT} ({i})" for i in range(64)]  # about 5,500 characters: within the default budget


def light_client(url: str, seconds: float, rate: float) -> tuple[list[float], int]:
    """(latencies of 200s, answers that were not 200)."""
    latencies, failed, _ = paced_client(url, seconds, rate, LIGHT_KEY, lambda i: {"text": f"{TEXT} {i}"})
    return latencies, failed


def heavy_client(url: str, seconds: float, concurrency: int, out) -> None:
    os.sched_setaffinity(0, {1})

    async def worker(client, counts, end):
        while time.perf_counter() < end:
            answer = await client.post("/predict", json={"texts": BATCH})
            counts[answer.status_code] = counts.get(answer.status_code, 0) + 1
            if answer.status_code != 200:
                await asyncio.sleep(0.05)  # a 429 says retry later

    async def main():
        counts: dict[int, int] = {}
        end = time.perf_counter() + seconds
        async with httpx.AsyncClient(base_url=url, headers={"authorization": f"Bearer {HEAVY_KEY}"},
                                     timeout=30, limits=httpx.Limits(max_connections=concurrency)) as client:
            await asyncio.gather(*(worker(client, counts, end) for _ in range(concurrency)))
        out.put(counts)

    asyncio.run(main())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rate", type=float, default=40)
    parser.add_argument("--heavy-concurrency", type=int, default=12)
    parser.add_argument("--inline", action="store_true",
                        help="run every request inline on the event loop (no worker pool): the baseline")
    args = parser.parse_args()
    os.sched_setaffinity(0, {1})
    env = {"MLOBS_PROTECT__MAX_CONCURRENCY": str(args.heavy_concurrency + 4),
           "MLOBS_PROTECT__INLINE_LOAD": "1.0" if args.inline else "0.05",
           "MLOBS_PROTECT__API_KEYS": json.dumps({"light": hash_key(LIGHT_KEY), "heavy": hash_key(HEAVY_KEY)})}
    with serving("sentiment", env) as url:
        light_client(url, 2, args.rate)  # warm-up
        alone = light_client(url, args.seconds, args.rate)
        out = multiprocessing.Queue()
        heavy = multiprocessing.Process(target=heavy_client, args=(url, args.seconds + 2, args.heavy_concurrency, out))
        heavy.start()
        time.sleep(1)
        beside = light_client(url, args.seconds, args.rate)
        counts = out.get(timeout=args.seconds + 60)
        heavy.join()
    print(f"\nFairness benchmark: protected sentiment service, uvicorn 1 worker on CPU 0, clients on CPU 1; "
          f"light client paced at {args.rate:g} req/s (one text), heavy client {args.heavy_concurrency} "
          f"requests of {len(BATCH)} texts in flight; {args.seconds:g} s per phase; "
          f"{'every request inline (baseline)' if args.inline else 'large requests on the fair worker pool'}.\n")
    print("| light client | p50 (ms) | p99 (ms) | non-200 | answered |")
    print("|---|---|---|---|---|")
    rows = {}
    for name, (lat, failed) in (("alone", alone), ("beside the heavy client", beside)):
        rows[name] = (pct(lat, 0.5) * 1000, pct(lat, 0.99) * 1000)
        print(f"| {name} | {rows[name][0]:.1f} | {rows[name][1]:.1f} | {failed} | {len(lat)} |")
    heavy_ok = counts.get(200, 0)
    print(f"\nHeavy client: {heavy_ok} batches answered ({heavy_ok * len(BATCH) / (args.seconds + 2):.0f} texts/s), "
          f"other answers {({k: v for k, v in counts.items() if k != 200})}.")
    ratio = rows["beside the heavy client"][1] / rows["alone"][1]
    ok = ratio <= 3
    print(f"Light p99 beside / alone: {ratio:.1f}x: {'goal met' if ok else 'GOAL MISSED'} (goal at most 3x)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
