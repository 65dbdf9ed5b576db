"""What counting inference CPU costs per call: predict()'s charged call and inference()'s CPU reads.

    python benchmarks/inference_cost.py [--calls 100000] [--rounds 7]

The two ways a model call is timed run with and without their CPU accounting, interleaved round by
round on one thread, each timed with the process's CPU clock (the charge goes to the counter by model version
and to the one by client); the added µs per call is reported per
round (minimum, median, maximum). The model is a no-op so that only the accounting is measured.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time

from prometheus_client import CollectorRegistry

from mlobs.client_cost import PROMOTE_AFTER
from mlobs.instrumentation import _charged
from mlobs.metrics import ServiceMetrics
from mlobs.model_info import ModelInfo
from mlobs.protect.client import current_client


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
    charge = metrics.charge_cpu  # by model version and by the request's client (its label already made)
    token = current_client.set("client-a")
    for _ in range(PROMOTE_AFTER):
        charge(0.0)

    def charged(x):  # what predict() hands the runner: a partial, then the timed call
        return functools.partial(_charged, charge, model)(x)

    def inline(x):  # what inference() adds around a block: two CPU clock reads and the charge
        start = time.thread_time()
        model(x)
        charge(time.thread_time() - start)

    added = {"predict (charged call)": [], "inference() block": []}
    for _ in range(args.rounds):
        bare = per_call(model, args.calls)
        added["predict (charged call)"].append(per_call(charged, args.calls) - bare)
        added["inference() block"].append(per_call(inline, args.calls) - bare)
    print(f"| accounting | added µs per call, min / median / max of {args.rounds} rounds |\n|---|---|")
    for name, values in added.items():
        print(f"| {name} | {min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f} |")
    current_client.reset(token)


if __name__ == "__main__":
    main()
