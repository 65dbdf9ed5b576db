"""`mlobs acceptance`: send traffic with a drift shift to a running stack and check, through the backends' HTTP
APIs, that metrics, exemplars, traces, logs and the drift page all arrive. Exit 0 only if every check passes."""

from __future__ import annotations

import argparse
import sys

from mlobs.acceptance.checks import Backends
from mlobs.acceptance.run import COMPOSE_TARGETS, Plan, run


def _target(text: str) -> tuple[str, str]:
    name, sep, url = text.partition("=")
    if not sep or not url.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"expected NAME=URL, e.g. vision=http://localhost:8002 (got {text!r})")
    return name, url.rstrip("/")


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("acceptance", help="check a running stack from outside (traffic, then its HTTP APIs)",
                       description=__doc__)
    p.add_argument("--prometheus", required=True, help="e.g. http://localhost:9090")
    p.add_argument("--alertmanager", required=True, help="e.g. http://localhost:9093")
    p.add_argument("--oncall", required=True, help="the on-call receiver, e.g. http://localhost:9095")
    p.add_argument("--grafana", help="e.g. http://localhost:3000 (needed by the two options below)")
    p.add_argument("--grafana-token", help="a service account token, if anonymous viewing is off")
    p.add_argument("--loki-via-grafana", action="store_true",
                   help="check log lines with an exemplar's trace id in Loki, through Grafana's datasource proxy")
    p.add_argument("--tempo-via-grafana", action="store_true",
                   help="check an exemplar's trace in Tempo, through Grafana's datasource proxy")
    p.add_argument("--no-traces", action="store_true",
                   help="the stack exports no traces (make local has no trace backend): skip the exemplar check")
    p.add_argument("--target", type=_target, action="append", metavar="NAME=URL",
                   help="a model service to send traffic to (repeat; default: the compose stack's "
                        + ", ".join(f"{k}={v}" for k, v in COMPOSE_TARGETS.items()) + ")")
    p.add_argument("--rate", type=float, default=5.0, help="requests per second to each service")
    p.add_argument("--normal-seconds", type=float, default=30.0, help="normal traffic before the shifts")
    p.add_argument("--wait", type=float, default=120.0, help="seconds to wait for series, exemplars, traces, logs")
    p.add_argument("--page-within", type=float, default=900.0,
                   help="seconds from the shift to the drift page at the receiver (the stack's rules decide "
                        "how fast it can be: 10m windows in the generated rules)")
    p.set_defaults(func=main)
    return p


def main(args: argparse.Namespace) -> int:
    if (args.loki_via_grafana or args.tempo_via_grafana) and not args.grafana:
        print("mlobs acceptance: --loki-via-grafana and --tempo-via-grafana need --grafana", file=sys.stderr)
        return 2
    if (args.loki_via_grafana or args.tempo_via_grafana) and args.no_traces:
        print("mlobs acceptance: the Loki and Tempo checks follow an exemplar's trace id: drop --no-traces",
              file=sys.stderr)
        return 2
    backends = Backends(args.prometheus.rstrip("/"), args.alertmanager.rstrip("/"), args.oncall.rstrip("/"),
                        args.grafana.rstrip("/") if args.grafana else None, args.grafana_token)
    plan = Plan(backends, targets=dict(args.target) if args.target else dict(COMPOSE_TARGETS),
                loki_via_grafana=args.loki_via_grafana, tempo_via_grafana=args.tempo_via_grafana,
                no_traces=args.no_traces, rate=args.rate,
                normal_seconds=args.normal_seconds, wait_seconds=args.wait, page_seconds=args.page_within)
    results = run(plan, say=lambda line: print(line, flush=True))
    failed = [r for r in results if not r.ok]
    print(f"mlobs acceptance: {len(results) - len(failed)}/{len(results)} checks passed", flush=True)
    return 1 if failed else 0
