"""How long `mlobs investigate` takes against a Prometheus holding a day of a service's metrics.

    python benchmarks/investigate_day.py [--runs 5]

A day of one credit service's metrics (every series the service exports, a 15 s scrape), with a bad
model version rolled out 20 hours in, is written as OpenMetrics, turned into blocks by promtool and
served by a real Prometheus; the investigation runs over the last 24 h and over the last 2 h, and the
wall time of each run is reported (minimum, median, maximum) with the number of queries.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from investigate.histories import CREDIT, History, scenarios  # noqa: E402

from mlobs.investigate.prometheus import Prometheus  # noqa: E402
from mlobs.investigate.run import investigate  # noqa: E402
from mlobs.investigate.window import Window  # noqa: E402
from mlobs.local.prometheus import Prometheus as PrometheusServer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "data").mkdir()
        end = time.time() - 60
        start = end - 24 * 3600
        after, _ = scenarios(CREDIT)["bad model version"]
        History("credit", start, 24 * 60, 20 * 60, CREDIT, after).write_blocks(root / "data")
        with PrometheusServer({"global": {"scrape_interval": "15s"}}, root) as server:
            print("| range | runs | wall time min / median / max | queries | top cause |\n|---|---|---|---|---|")
            for label, window in (("24 h", Window(start, end)), ("2 h", Window(end - 7200, end))):
                times = []
                for _ in range(args.runs):
                    began = time.perf_counter()
                    report = investigate(Prometheus(server.url, deadline_s=60), "credit", window)
                    times.append(time.perf_counter() - began)
                top = report.causes[0].key if report.causes else "none"
                print(f"| {label} | {args.runs} | {min(times):.2f} / {statistics.median(times):.2f} / "
                      f"{max(times):.2f} s | {report.queries} | {top} |")


if __name__ == "__main__":
    main()
