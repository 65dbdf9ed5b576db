"""`python -m mlobs.local`: the native stack (no Docker) until Ctrl-C, SIGTERM or --duration seconds."""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from pathlib import Path

from mlobs.local.pages import PageWatch
from mlobs.local.stack import SHIFTS, LocalStack, Options
from mlobs.settings import Settings


class Stop(Exception):
    pass


def _raise_stop(signum, frame):
    raise Stop(signal.Signals(signum).name)


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m mlobs.local", description=__doc__)
    p.add_argument("--duration", type=float, default=0.0, help="stop after this many seconds (0: run until stopped)")
    p.add_argument("--ports-base", type=int, default=18000,
                   help="Prometheus on BASE+90, Alertmanager BASE+93, services BASE+1..3, drift exporter "
                        "BASE+8, on-call receiver BASE+95 (0: free ports)")
    p.add_argument("--rate", type=float, default=5.0, help="requests per second to each service")
    p.add_argument("--scenario-delay", type=float, default=120.0,
                   help="seconds of normal traffic before the shifts"
                        f" ({', '.join(f'{k} {v}' for k, v in SHIFTS.items())})")
    p.add_argument("--interval", default="5s", help="Prometheus scrape and rule evaluation interval")
    p.add_argument("--drift-window", type=int, default=200, help="drift exporter window size (samples)")
    p.add_argument("--drift-page-window", default="3m",
                   help="EstimatedAccuracyDrop pages when every drift evaluation over this window agrees "
                        "(the generated production rule: 10m)")
    p.add_argument("--alert-wait", default="10s", help="Alertmanager group_wait and group_interval")
    p.add_argument("--workdir", type=Path, help="logs and Prometheus data (default: a new temporary directory)")
    p.add_argument("--artifacts-dir", type=Path, help="model artifacts (default: MLOBS_ARTIFACTS_DIR or the cache)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    options = Options(
        workdir=args.workdir or Path(tempfile.mkdtemp(prefix="mlobs-local-")),
        artifacts_dir=args.artifacts_dir or Settings().artifacts_dir, ports_base=args.ports_base, rate=args.rate,
        traffic_seconds=args.duration or 86400.0, scenario_delay=args.scenario_delay, interval=args.interval,
        drift_window=args.drift_window, drift_page_window=args.drift_page_window, alert_wait=args.alert_wait)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_stop)
    stack = LocalStack(options)
    print(f"mlobs local: starting (training missing models first); logs in {options.workdir}", flush=True)
    try:
        stack.start()
        for what, where in stack.where():
            print(f"  {what:<15} {where}")
        print(f"traffic: {options.rate:g} req/s per service; shifts after {options.scenario_delay:g} s; a drift "
              f"page needs every evaluation over {options.drift_page_window} to agree. Ctrl-C stops everything.",
              flush=True)
        watch = PageWatch(stack.receiver_url, stack.shift_at)
        deadline = time.monotonic() + args.duration if args.duration else None
        while deadline is None or time.monotonic() < deadline:
            dead = stack.failed()
            if dead:
                print(f"mlobs local: {', '.join(dead)} exited; see {options.workdir}", file=sys.stderr)
                return 1
            for line in watch.poll():
                print(line, flush=True)
            time.sleep(0.5)
    except Stop as stop:
        print(f"mlobs local: {stop}, stopping", flush=True)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the shutdown short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop()
    print("mlobs local: stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
