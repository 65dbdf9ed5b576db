"""Run the acceptance check: traffic with a drift shift, then every check in order; a report line each."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from mlobs.acceptance import checks
from mlobs.acceptance.checks import Backends, Result
from mlobs.acceptance.traffic import BackgroundTraffic

# The compose stack's published ports (docker-compose.yml) and each service's shift.
COMPOSE_TARGETS = {"sentiment": "http://localhost:8001", "vision": "http://localhost:8002",
                   "credit": "http://localhost:8003"}
SHIFTS = {"sentiment": "domain-shift", "vision": "rotation", "credit": "income-shift"}


@dataclass
class Plan:
    backends: Backends
    targets: dict[str, str] = field(default_factory=lambda: dict(COMPOSE_TARGETS))
    loki_via_grafana: bool = False
    tempo_via_grafana: bool = False
    # The stack exports no traces (the native stack has no trace backend): spans are not even built
    # then, so metrics carry no exemplars and there is no trace id to look for.
    no_traces: bool = False
    rate: float = 5.0
    normal_seconds: float = 30.0
    wait_seconds: float = 120.0   # series, exemplars, traces and logs
    page_seconds: float = 900.0   # from the shift to the page at the receiver


def run(plan: Plan, say: Callable[[str], None] = print) -> list[Result]:
    b = plan.backends
    traffic = BackgroundTraffic(plan.targets, SHIFTS, plan.rate, plan.normal_seconds,
                                duration=plan.normal_seconds + plan.page_seconds + plan.wait_seconds).start()
    results: list[Result] = []

    def record(result: Result) -> Result:
        results.append(result)
        say(f"{'ok  ' if result.ok else 'FAIL'} {result.name}: {result.detail}")
        return result

    try:
        say(f"traffic: {plan.rate:g} req/s to {', '.join(sorted(plan.targets))}; shifts after "
            f"{plan.normal_seconds:g} s; a drift page is expected within {plan.page_seconds:g} s of the shift")
        record(checks.series(b, sorted(plan.targets), plan.wait_seconds))
        trace_ids: list[str] = []
        if plan.no_traces:
            say("skip exemplar with trace id: the stack exports no traces (--no-traces)")
        else:
            record(checks.exemplar(b, plan.wait_seconds, trace_ids))
        if plan.tempo_via_grafana:
            record(checks.tempo_trace(b, trace_ids, plan.wait_seconds) if trace_ids
                   else Result("trace in Tempo (via Grafana)", False, "no exemplar trace id to look up"))
        if plan.loki_via_grafana:
            record(checks.loki_logs(b, trace_ids, plan.wait_seconds) if trace_ids
                   else Result("logs in Loki (via Grafana)", False, "no exemplar trace id to look up"))
        # Prometheus resends firing alerts every minute; the heartbeat route sends one a minute after.
        record(checks.heartbeat(b, max(plan.wait_seconds, 150.0)))
        while traffic.shift_at is None and traffic.error is None:
            time.sleep(0.1)
        shift_at = traffic.shift_at or time.time()
        left = max(shift_at + plan.page_seconds - time.time(), 1.0)
        record(checks.alertmanager_alert(b, left))
        left = max(shift_at + plan.page_seconds - time.time(), 1.0)
        if record(checks.page(b, shift_at, left)).ok:
            record(checks.receiver_counted(b))
    finally:
        traffic.stop()
    if traffic.error is not None:
        record(Result("traffic", False, f"{type(traffic.error).__name__}: {traffic.error}"))
    return results
