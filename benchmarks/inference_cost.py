"""What counting inference CPU costs per call: predict()'s charged call and inference()'s CPU reads.

    python benchmarks/inference_cost.py [--calls 100000] [--rounds 7]

The two ways a model call is timed run with and without their CPU accounting, interleaved round by
round on one thread, each timed with the process's CPU clock; the added µs per call is reported per
round (minimum, median, maximum). The model is a no-op so that only the accounting is measured.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time

from prometheus_client import CollectorRegistry

from mlobs.instrumentation import _charged
from mlobs.metrics import ServiceMetrics
from mlobs.model_info import ModelInfo


def model(x):
    return x


def per_call(fn, calls: int) -> float:
    start = time.process_time()
    for i in range(calls):
        fn(i)
    return (time.process_time() - start) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    metrics = ServiceMetrics(CollectorRegistry(), "bench", ModelInfo("bench", "v1", "d", "c"))
    counter = metrics.inference_cpu

    def charged(x):  # what predict() hands the runner: a partial, then the timed call
        return functools.partial(_charged, counter, model)(x)

    def inline(x):  # what inference() adds around a block: two CPU clock reads and an increment
        start = time.thread_time()
        model(x)
        counter.inc(time.thread_time() - start)

    added = {"predict (charged call)": [], "inference() block": []}
    for _ in range(args.rounds):
        bare = per_call(model, args.calls)
        added["predict (charged call)"].append(per_call(charged, args.calls) - bare)
        added["inference() block"].append(per_call(inline, args.calls) - bare)
    print(f"| accounting | added µs per call, min / median / max of {args.rounds} rounds |\n|---|---|")
    for name, values in added.items():
        print(f"| {name} | {min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f} |")


if __name__ == "__main__":
    main()
