"""`mlobs traffic`: realistic open-loop traffic against a running model service."""

from __future__ import annotations

import argparse
import asyncio
import sys

from mlobs import registry
from mlobs.traffic import faults
from mlobs.traffic.detect import DetectionError, detect_service
from mlobs.traffic.runner import ARRIVALS, Phase, RunConfig, run_traffic
from mlobs.traffic.stats import Stats, format_summary

NORMAL = "normal"
EXIT_OK, EXIT_NO_SUCCESS, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _positive(kind: type):
    def parse(text: str):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value

    return parse


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {text}")
    return value


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("traffic", help="send realistic traffic to a running service for a fixed time")
    p.add_argument("--target", required=True, help="base URL of the service, e.g. http://127.0.0.1:8000")
    p.add_argument("--rate", type=_positive(float), required=True, help="mean requests per second")
    p.add_argument("--duration", type=_positive(float), required=True, help="seconds to send for")
    p.add_argument("--service", help="service name (default: the model named by GET TARGET/healthz)")
    p.add_argument("--scenario", default=NORMAL,
                   help=f"workload scenario (default: normal; {faults.OUTAGE} for any service)")
    p.add_argument(
        "--scenario-delay", type=_non_negative, default=0.0, metavar="SECONDS",
        help="send the normal scenario for this long first, then switch to --scenario",
    )
    p.add_argument(
        "--feedback-rate", type=_fraction, default=0.3, help="share of successful predictions followed by feedback"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--concurrency", type=_positive(int), default=64, help="most requests in flight at once")
    p.add_argument("--timeout", type=_positive(float), default=10.0, help="seconds per request")
    p.add_argument("--arrivals", choices=ARRIVALS, default="poisson", help="inter-arrival times (default: poisson)")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.set_defaults(func=run)
    return p


def _fail(message: str, code: int) -> int:
    print(f"mlobs traffic: {message}", file=sys.stderr)
    return code


def _phases(args: argparse.Namespace, service: str) -> list[Phase]:
    try:
        module = registry.load(service)
    except ImportError as exc:
        raise ValueError(f"cannot load the {service} service module: {exc}") from None
    if not callable(getattr(module, "workload", None)):
        raise ValueError(f"the {service} service module {module.__name__} has no workload(scenario, seed)")
    if faults.is_generic(args.scenario):
        scenario = Phase(args.scenario_delay, faults.Renamed(module.workload(NORMAL, args.seed), args.scenario),
                         faults.VOLUMES[args.scenario])
    else:
        scenario = Phase(args.scenario_delay, module.workload(args.scenario, args.seed))
    if args.scenario == NORMAL or args.scenario_delay == 0:
        return [Phase(0.0, scenario.workload, scenario.volume)]
    return [Phase(0.0, module.workload(NORMAL, args.seed)), scenario]


def run(args: argparse.Namespace) -> int:
    target = args.target.rstrip("/")
    service = args.service
    if service is None:
        try:
            service = detect_service(target, timeout_s=min(args.timeout, 5.0))
        except DetectionError as exc:
            return _fail(f"{exc}\nIs the service running? Pass --service NAME to skip detection.", EXIT_USAGE)
    if service not in registry.service_names():
        return _fail(f"unknown service {service!r}; known: {', '.join(registry.service_names())}", EXIT_USAGE)
    try:
        phases = _phases(args, service)
    except ValueError as exc:
        return _fail(str(exc), EXIT_USAGE)

    config = RunConfig(
        target=target, rate=args.rate, duration_s=args.duration, concurrency=args.concurrency,
        timeout_s=args.timeout, feedback_rate=args.feedback_rate, seed=args.seed, arrivals=args.arrivals,
    )
    switch = f" -> {args.scenario} after {args.scenario_delay:g} s" if len(phases) > 1 else ""
    print(f"mlobs traffic: {service} at {target}, scenario {phases[0].workload.scenario}{switch}, "
          f"{args.rate:g} req/s for {args.duration:g} s", file=sys.stderr)

    stats = Stats()
    interrupted = False
    try:
        asyncio.run(run_traffic(config, phases, stats, progress=not args.quiet and sys.stderr.isatty()))
    except KeyboardInterrupt:
        interrupted = True
    print(format_summary(stats, args.rate))
    if interrupted:
        return _fail("interrupted; the summary covers what was sent", EXIT_INTERRUPTED)
    if stats.succeeded == 0:
        errors = ", ".join(f"{n} {kind}" for kind, n in stats.errors.items()) or "no errors"
        statuses = ", ".join(f"{n} x HTTP {code}" for code, n in sorted(stats.statuses.items())) or "no responses"
        return _fail(f"no request succeeded against {target} ({statuses}; {errors})", EXIT_NO_SUCCESS)
    return EXIT_OK
