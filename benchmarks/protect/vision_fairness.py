"""Amplification and fairness on the vision service: one client keeps 8 requests of four 1000x1000
PNGs in flight (4 megapixels each, the default per-request budget; 64 of them would be refused with
413 over_budget); another client sends single small images. Reports the light client's p50/p99 alone
and beside the heavy one, and the heavy client's answers.

    python benchmarks/protect/vision_fairness.py [--requests 60] [--heavy 8] [--inline]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import sys
import time
from pathlib import Path

import httpx
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
from harness import pct, serving  # noqa: E402

from mlobs.protect import hash_key  # noqa: E402

LIGHT_KEY, HEAVY_KEY = "bench-light-" + "l" * 32, "bench-heavy-" + "h" * 32


def png(size: int, shade: int = 0) -> bytes:
    out = io.BytesIO()
    Image.new("L", (size, size), shade).save(out, format="PNG")
    return out.getvalue()


async def light(client: httpx.AsyncClient, n: int) -> list[float]:
    image, latencies = png(28, 255), []
    for _ in range(n):
        t0 = time.perf_counter()
        answer = await client.post("/predict", content=image, headers={"content-type": "image/png",
                                                                        "authorization": f"Bearer {LIGHT_KEY}"})
        if answer.status_code == 200:
            latencies.append(time.perf_counter() - t0)
        await asyncio.sleep(0.05)
    return latencies


async def heavy(client: httpx.AsyncClient, stop: asyncio.Event, counts: dict) -> None:
    parts = [("files", (f"{i}.png", png(1000), "image/png")) for i in range(4)]
    while not stop.is_set():
        answer = await client.post("/predict", files=parts, headers={"authorization": f"Bearer {HEAVY_KEY}"})
        counts[answer.status_code] = counts.get(answer.status_code, 0) + 1


async def run(url: str, n: int, concurrency: int):
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        await light(client, 10)  # warm-up
        alone = await light(client, n)
        stop, counts = asyncio.Event(), {}
        tasks = [asyncio.create_task(heavy(client, stop, counts)) for _ in range(concurrency)]
        await asyncio.sleep(1)
        beside = await light(client, n)
        stop.set()
        await asyncio.gather(*tasks)
    return alone, beside, counts


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--heavy", type=int, default=8)
    parser.add_argument("--inline", action="store_true",
                        help="decode and infer every request inline on the event loop (no worker pool): the baseline")
    args = parser.parse_args()
    env = {"MLOBS_PROTECT__INLINE_LOAD": "1.0" if args.inline else "0.05",
           "MLOBS_PROTECT__API_KEYS": json.dumps({"light": hash_key(LIGHT_KEY), "heavy": hash_key(HEAVY_KEY)})}
    with serving("vision", env, pin=False, wait_s=120) as url:
        alone, beside, counts = asyncio.run(run(url, args.requests, args.heavy))
    mode = "every request inline (baseline)" if args.inline else "large requests on the fair worker pool"
    print(f"\nVision: light client single 28x28 PNGs; heavy client {args.heavy} requests of four 1000x1000 PNGs "
          f"in flight; {mode}.\n")
    print("| light client | p50 (ms) | p99 (ms) | answered |")
    print("|---|---|---|---|")
    for name, lat in (("alone", alone), ("beside the heavy client", beside)):
        print(f"| {name} | {pct(lat, 0.5) * 1000:.1f} | {pct(lat, 0.99) * 1000:.1f} | {len(lat)} |")
    print(f"\nHeavy client answers by status: {counts}")
    ratio = pct(beside, 0.99) / pct(alone, 0.99)
    print(f"Light p99 beside / alone: {ratio:.1f}x ({'goal met' if ratio <= 3 else 'GOAL MISSED'}; goal at most 3x)")
    return 0 if ratio <= 3 else 1


if __name__ == "__main__":
    sys.exit(main())
