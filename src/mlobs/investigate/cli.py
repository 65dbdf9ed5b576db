"""`mlobs investigate`: the command line."""

from __future__ import annotations

import argparse
import sys

import orjson

from mlobs.investigate.breach import SLO_NAMES

EXIT_CAUSE, EXIT_NO_CAUSE, EXIT_ERROR = 0, 1, 2
EPILOG = (f"exit status: {EXIT_CAUSE} a cause was found, {EXIT_NO_CAUSE} no cause was found (or nothing got "
          f"worse), {EXIT_ERROR} the investigation could not run (Prometheus unreachable, a bad argument, a service "
          f"Prometheus has no series of)")


def register(sub) -> None:
    p = sub.add_parser("investigate", help="turn an SLO or quality breach into a ranked, evidenced cause",
                       description=__doc__, epilog=EPILOG)
    p.add_argument("--prometheus", required=True, help="Prometheus base URL, e.g. http://127.0.0.1:9090")
    p.add_argument("--service", required=True, help="the service (its `service` label and scrape job)")
    p.add_argument("--since", help="how far back from now (or from --to): 30m, 2h, 1d (default 2h)")
    p.add_argument("--from", dest="start", help="start: unix seconds or ISO 8601 (UTC without an offset)")
    p.add_argument("--to", dest="end", help="end (default now)")
    p.add_argument("--slo", choices=SLO_NAMES, help="investigate this signal only (default: the worst one)")
    p.add_argument("--grafana", default="http://localhost:3000", help="Grafana base URL for dashboard links")
    p.add_argument("--deadline", type=float, default=10.0, help="seconds the whole investigation may take")
    p.add_argument("--json", action="store_true", help="one JSON object instead of the report")
    p.add_argument("--no-queries", action="store_true", help="leave the PromQL out of the report")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from mlobs.investigate import window as windows
    from mlobs.investigate.prometheus import Prometheus, PrometheusError
    from mlobs.investigate.report import render
    from mlobs.investigate.run import investigate

    if args.since and args.start:
        print("mlobs investigate: give --since or --from, not both", file=sys.stderr)
        return EXIT_ERROR
    try:
        window = windows.resolve(args.since, args.start, args.end)
        report = investigate(Prometheus(args.prometheus, args.deadline), args.service, window, args.slo)
    except (ValueError, PrometheusError) as exc:
        print(f"mlobs investigate: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if args.json:
        sys.stdout.write(orjson.dumps(report.as_json(), option=orjson.OPT_SERIALIZE_NUMPY).decode() + "\n")
    else:
        print(render(report, args.grafana, show_queries=not args.no_queries))
    return EXIT_CAUSE if report.causes else EXIT_NO_CAUSE
