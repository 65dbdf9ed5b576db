"""Find the breach: which signal got worse in the time range, and when it began (its onset)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mlobs import catalog
from mlobs.investigate.model import Breach
from mlobs.investigate.prometheus import Prometheus
from mlobs.investigate.signals import Signals
from mlobs.investigate.stats import MIN_POINTS, change_point
from mlobs.investigate.window import Window
from mlobs.stackgen.promql import match
from mlobs.stackgen.slos import AVAILABILITY, BUSINESS_SLOS, KPIS, PREDICT_LATENCY


@dataclass(frozen=True)
class Candidate:
    name: str
    query: Callable[[Signals], str]
    # The change that counts as a breach: `threshold` in the signal's units, upwards (worse) unless
    # `lower_is_worse`; for SLO error ratios, a multiple of the error budget.
    threshold: float
    describe: Callable[[float, float], str]
    lower_is_worse: bool = False
    two_sided: bool = False  # a KPI held within a band: a move either way counts
    budget: float | None = None
    # One series per label value (e.g. per class), each its own signal: the one that moved most counts.
    per_series: str = ""
    # For a ratio of counters: the PromQL of (events, trials) over a range, so that a change is tested
    # on the counts themselves (the grid's points share their rate windows, so their spread understates
    # the noise of a handful of events).
    counts: Callable[[Signals, str], tuple[str, str]] | None = None
    # For an SLO: what its bad events are, to say that it burns throughout a range with no change in it.
    bad_events: str = ""


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


CANDIDATES = (
    Candidate(PREDICT_LATENCY.name, Signals.latency_error_ratio, 2.0,
              lambda b, a: f"/predict requests over 200 ms rose from {_pct(b)} to {_pct(a)}",
              budget=PREDICT_LATENCY.budget, bad_events="/predict requests over 200 ms"),
    Candidate(AVAILABILITY.name, Signals.error_ratio_5xx, 2.0,
              lambda b, a: f"requests answered 5xx rose from {_pct(b)} to {_pct(a)}",
              budget=AVAILABILITY.budget, bad_events="requests answered 5xx"),
    Candidate("online-accuracy", Signals.online_error_rate, 0.03,
              lambda b, a: f"online accuracy fell from {_pct(1 - b)} to {_pct(1 - a)}",
              counts=Signals.feedback_counts),
    Candidate("estimated-accuracy", Signals.estimated_error_rate, 0.03,
              lambda b, a: f"estimated accuracy fell from {_pct(1 - b)} to {_pct(1 - a)}"),
    Candidate("request-volume", Signals.predict_rate, 0.5,
              lambda b, a: f"/predict traffic fell from {b:.2f} to {a:.2f} req/s", lower_is_worse=True),
)

# A change whose two means are this few standard errors apart is noise (a few slow requests when
# traffic is low, a handful of wrong answers), whatever its size.
MIN_T = 3.0


def _band(kpi):
    def query(signals: Signals) -> str:
        return kpi.ratio_expr(signals.w, match(kpi.metric, "service", signals.service))
    return Candidate(kpi.name, query, kpi.band, lambda b, a: f"{kpi.name} moved from {_pct(b)} to {_pct(a)}",
                     two_sided=True)


CANDIDATES += tuple(_band(k) for k in KPIS)
# The class mix: a prior shift moves it with no SLO burning and accuracy unchanged.
CANDIDATES += (Candidate("prediction-mix", Signals.class_share, 0.10,
                         lambda b, a: f"share of predictions moved from {_pct(b)} to {_pct(a)}",
                         two_sided=True, per_series=catalog.PREDICTIONS.labels[-1]),)
# The business SLOs on correct feedback are online accuracy, read from the same counters.
ALIASES = {s.name: "online-accuracy" for s in BUSINESS_SLOS}
SLO_NAMES = tuple(c.name for c in CANDIDATES) + tuple(ALIASES)


def find(prom: Prometheus, signals: Signals, window: Window, slo: str | None = None,
         holds_from: float | None = None) -> Breach | None:
    """The candidate whose change is furthest past its threshold, or None when nothing got worse.

    With `holds_from`, only a change still in force from that moment to the end counts: a breach that
    recovered before it is not the one being investigated."""
    best, burning = None, None
    slo = ALIASES.get(slo, slo)
    for candidate in CANDIDATES:
        if slo is not None and candidate.name != slo:
            continue
        query = candidate.query(signals)
        series = prom.range(query, window.start, window.end, window.step)
        if not series:
            continue
        if candidate.per_series:
            tracks = [(s.labels.get(candidate.per_series, "?"), s.values) for s in series]
        elif len(series) > 1:
            tracks = [("", np.nanmax(np.vstack([s.values for s in series]), axis=0))]
        else:
            tracks = [("", series[0].values)]
        if candidate.budget is not None:
            burning = _burning(candidate, series[0].times, tracks[0][1], query, burning)
        for label, values in tracks:
            change = change_point(series[0].times, values)
            if change is None or change.t < MIN_T:
                continue
            severity = _severity(candidate, change.before, change.after)
            if holds_from is not None and not _holds(series[0].times, values, change, holds_from):
                continue
            if severity >= 1.0 and candidate.counts is not None:
                if _counted_z(prom, signals, candidate.counts, window, change.at) < MIN_T:
                    continue
            if severity >= 1.0 and (best is None or severity > best.severity):
                text = candidate.describe(change.before, change.after)
                best = Breach(candidate.name, change.at, change.before, change.after, round(severity, 2),
                              f"{candidate.per_series} {label!r}: {text}" if label else text, query)
    return best or burning


def _burning(c: Candidate, times: np.ndarray, values: np.ndarray, query: str, other: Breach | None) -> Breach | None:
    """An SLO burning its budget at least `threshold` times over in every request of the range: a breach
    with no change in it, since it began before the range, or with the range's first requests."""
    ok = np.isfinite(values)
    if ok.sum() < MIN_POINTS:
        return other
    # The median, so that a few slow requests in a quiet range (a handful of points) are no burn throughout.
    level = float(np.median(values[ok]))
    severity = (level / c.budget) / c.threshold
    if severity < 1.0 or (other is not None and other.severity >= severity):
        return other
    return Breach(c.name, float(times[ok][0]), math.nan, level, round(severity, 2),
                  f"{c.bad_events}: {_pct(level)} throughout, {level / c.budget:.0f} times the error budget",
                  query, throughout=True)


def _holds(times: np.ndarray, values: np.ndarray, change, since: float) -> bool:
    """The signal is still nearer its level after the change than before it, from `since` on."""
    later = values[(times >= since) & np.isfinite(values)]
    return len(later) > 0 and abs(later.mean() - change.after) < abs(later.mean() - change.before)


def _counted_z(prom: Prometheus, signals: Signals, counts: Callable[[Signals, str], tuple[str, str]],
               window: Window, at: float) -> float:
    """How many standard errors the share of events after `at` is above the share before it: a
    two-proportion z statistic on the counts of each side (0 when either side has none)."""
    def counted(end: float, seconds: float) -> tuple[float, float]:
        events, trials = counts(signals, f"{max(1, int(seconds))}s")
        return tuple(sum(v for _, v in prom.instant(q, end) if math.isfinite(v)) for q in (events, trials))

    events_before, before = counted(at, at - window.start)
    events_after, after = counted(window.end, window.end - at)
    if before <= 0 or after <= 0:
        return 0.0
    pooled = (events_before + events_after) / (before + after)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / before + 1 / after))
    return (events_after / after - events_before / before) / spread if spread > 0 else 0.0


def _severity(c: Candidate, before: float, after: float) -> float:
    if not (math.isfinite(before) and math.isfinite(after)):
        return 0.0
    if c.budget is not None:
        # Burn rate after the onset, in multiples of the threshold; it must also be a real rise.
        if after <= 2 * before:
            return 0.0
        return (after / c.budget) / c.threshold
    if c.two_sided:
        return abs(after - before) / c.threshold
    if c.lower_is_worse:
        return 0.0 if before <= 0 else ((before - after) / before) / c.threshold
    return (after - before) / c.threshold
