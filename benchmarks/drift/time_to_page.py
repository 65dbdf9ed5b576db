"""Seconds from drift starting to the on-call webhook receiving the page, with the on-call test's
shortened intervals (1 s scrape and evaluation, 50-image windows, a page needing every window over
8 s to agree, Alertmanager group_wait 1 s). Normal vision traffic, then rotated images.

    python benchmarks/drift/time_to_page.py [--runs 3] [--write-docs]

--write-docs puts the table into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support.oncall import OnCallStack  # noqa: E402

from mlobs_services.vision import model  # noqa: E402


def one_run(artifacts: Path, lead_in: float = 10.0, drift_seconds: float = 40.0) -> float | None:
    with OnCallStack(Path(tempfile.mkdtemp()), artifacts) as stack:
        stack.send("normal", lead_in)
        pages: list[float | None] = []
        waiter = threading.Thread(target=lambda: pages.append(stack.wait_for_page(lead_in + drift_seconds)))
        waiter.start()
        started = stack.send("rotation", drift_seconds)
        waiter.join()
        return pages[0] - started if pages[0] else None


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    artifacts = Path(tempfile.mkdtemp())
    model.train(artifacts)
    delays = [one_run(artifacts) for _ in range(args.runs)]
    paged = [d for d in delays if d is not None]
    table = (
        "| drift starts (rotation 25°) → page at the on-call webhook | runs | paged | median | max |\n"
        "|---|---|---|---|---|\n"
        f"| 50-image windows, 1 s scrape/evaluation, every window over 8 s must agree | {args.runs} | {len(paged)} "
        f"| {statistics.median(paged):.1f} s | {max(paged):.1f} s |" if paged else "no run paged"
    )
    table += f"\n\n`python benchmarks/drift/time_to_page.py`, {time.strftime('%Y-%m-%d')}."
    print(table)
    if args.write_docs:
        from readme import write_section

        write_section("time-to-page", table)
    return 0 if len(paged) == args.runs else 1


if __name__ == "__main__":
    sys.exit(main())
