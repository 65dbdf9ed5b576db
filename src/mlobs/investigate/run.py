"""One investigation: find the breach, test every hypothesis around its onset, rank the findings."""

from __future__ import annotations

import time

from mlobs.investigate import breach as breaches
from mlobs.investigate.hypotheses import TESTS, Context
from mlobs.investigate.model import Report
from mlobs.investigate.prometheus import Prometheus
from mlobs.investigate.rank import rank
from mlobs.investigate.signals import Signals
from mlobs.investigate.window import Window


def investigate(prom: Prometheus, service: str, window: Window, slo: str | None = None) -> Report:
    started = time.monotonic()
    signals = Signals(service, window.rate_window)
    found = breaches.find(prom, signals, window, slo)
    findings = []
    if found is not None:
        ctx = Context(prom, signals, window, found.onset)
        findings = rank([test(ctx) for test in TESTS], ctx.notes)
    return Report(service, window.start, window.end, found, findings, len(prom.queries),
                  round(time.monotonic() - started, 2))
