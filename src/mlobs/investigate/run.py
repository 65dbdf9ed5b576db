"""One investigation: find the breach, test every hypothesis around its onset, rank the findings."""

from __future__ import annotations

import time

from mlobs.investigate import breach as breaches
from mlobs.investigate import coverage
from mlobs.investigate.hypotheses import TESTS, Context
from mlobs.investigate.model import Breach, Report
from mlobs.investigate.prometheus import Prometheus
from mlobs.investigate.rank import rank
from mlobs.investigate.report import clock
from mlobs.investigate.signals import Signals
from mlobs.investigate.window import Window

# The hypotheses compare the points before the onset with those after it, leaving two steps out on
# either side: an onset needs this many steps of the range before it to have anything to compare with.
BASELINE_STEPS = 8
# On-call asks for the last few minutes once an alert fires, by when the breach may have begun before
# them: the range then reaches this many times as far back (an hour at least), once, to find what the
# breach broke from.
LOOK_BACK = 4
LOOK_BACK_MIN_S = 3600.0
UNSCRAPED = "scrape"


class UnknownService(ValueError):
    """Prometheus holds nothing of the service in the range: a misspelt name is not a healthy service."""


def investigate(prom: Prometheus, service: str, window: Window, slo: str | None = None) -> Report:
    started = time.monotonic()
    asked = window
    found = breaches.find(prom, Signals(service, window.rate_window), window, slo)
    wider = window.widened(max(LOOK_BACK, LOOK_BACK_MIN_S / (window.end - window.start)))
    if not _has_baseline(found, window) and not (found is not None and _began_with_traffic(found, window)):
        # Only a breach still in force in the range asked for: an older one that recovered is not it.
        earlier = breaches.find(prom, Signals(service, wider.rate_window), wider, slo, holds_from=asked.start)
        if earlier is not None and (_has_baseline(earlier, wider) or _began_with_traffic(earlier, wider)):
            window, found = wider, earlier
    signals = Signals(service, window.rate_window)
    up = prom.range(signals.targets_up(), window.start, window.end, window.step)
    gaps = coverage.unscraped(up, window.end)
    whole = [g for g in gaps if not g.target]  # no target of the job scraped
    findings, unanswered = [], ""
    if found is None and whole and whole[-1].end >= window.end and slo is None:
        found = Breach(UNSCRAPED, whole[-1].start, 1.0, 0.0, 1.0,
                       f"no target of job {service!r} has been scraped since {clock(whole[-1].start)} UTC",
                       signals.scrape_up())
        unanswered = ("whether the service still answers cannot be told from its own metrics: check its processes "
                      "and the path from Prometheus to them")
    elif found is None:
        traffic = prom.range(signals.predict_rate(), asked.start, asked.end, asked.step)
        if not traffic and not up:
            _known(prom, service, asked)
        if not coverage.has_traffic(traffic):
            unanswered = ("the service answered no /predict request in this range: without requests, latency, "
                          "errors and accuracy cannot show a breach")
    elif _has_baseline(found, window):
        ctx = Context(prom, signals, window, found.onset)
        findings = rank([test(ctx) for test in TESTS], ctx.notes)
    elif found.throughout and not _began_with_traffic(found, window):
        unanswered = (f"it was already burning when the range starts, and the {(asked.end - wider.start) / 60:.0f} "
                      "min before its end show no onset: give --from a time before it began")
    elif found.throughout:
        unanswered = f"the service answered no /predict request before {clock(found.onset)} UTC to compare with"
    else:
        unanswered = (f"the onset is within {(found.onset - window.start) / 60:.0f} min of the range's start, too "
                      "little before it to compare with: give --from a time well before the onset")
    return Report(service, window.start, window.end, found, findings, len(prom.queries),
                  round(time.monotonic() - started, 2), asked_start=asked.start if window is not asked else None,
                  unanswered=unanswered, unscraped=gaps)


def _began_with_traffic(found: Breach, window: Window) -> bool:
    """A burn through the range that began with its first requests, well inside the range (a range that
    starts inside the burn has its first point or two empty too, while rate() fills its first range)."""
    return found.throughout and found.onset - window.start >= BASELINE_STEPS * window.step


def _has_baseline(found: Breach | None, window: Window) -> bool:
    return (found is not None and not found.throughout
            and found.onset - window.start >= BASELINE_STEPS * window.step)


def _known(prom: Prometheus, service: str, window: Window) -> None:
    """Raise UnknownService unless some series in the range carries the service's name."""
    known = prom.label_values("service", window.start, window.end)
    if service in known:
        return
    listed = ", ".join(sorted(known)[:20]) or "none"
    raise UnknownService(f"Prometheus holds no series of service {service!r} (its `service` label or scrape "
                         f"job) between {clock(window.start)} and {clock(window.end)} UTC; the services it "
                         f"holds: {listed}")
