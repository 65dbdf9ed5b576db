"""Small statistics on aligned series: before/after means around a moment, and change points."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# A segment needs this many points for its mean to count.
MIN_POINTS = 3


@dataclass(frozen=True)
class Change:
    at: float       # unix seconds: the first point of the later segment
    before: float   # mean before
    after: float    # mean after
    t: float        # Welch-like t statistic of the difference (0 when undefined)


def split_means(times: np.ndarray, values: np.ndarray, at: float, guard: float = 0.0) -> tuple[float, float]:
    """Means of the finite values before `at - guard` and from `at + guard` on (NaN when too few points)."""
    ok = np.isfinite(values)
    before = values[ok & (times < at - guard)]
    after = values[ok & (times >= at + guard)]
    return _mean(before), _mean(after)


def change_point(times: np.ndarray, values: np.ndarray) -> Change | None:
    """The single split that best separates the series into two means (None if too few points)."""
    ok = np.isfinite(values)
    x, t = values[ok], times[ok]
    n = len(x)
    if n < 2 * MIN_POINTS:
        return None
    csum, csq = np.cumsum(x), np.cumsum(x * x)
    best = None
    for k in range(MIN_POINTS, n - MIN_POINTS + 1):
        m1, m2 = csum[k - 1] / k, (csum[-1] - csum[k - 1]) / (n - k)
        v1 = max(csq[k - 1] / k - m1 * m1, 0.0)
        v2 = max((csq[-1] - csq[k - 1]) / (n - k) - m2 * m2, 0.0)
        se = math.sqrt(v1 / k + v2 / (n - k))
        diff = abs(m2 - m1)
        # A perfectly flat segment pair has no spread: scale by the level so a real step still wins.
        stat = diff / se if se > 1e-12 else (diff / (abs(m1) + abs(m2) + 1e-12)) * 1e6
        if best is None or stat > best[0]:
            best = (stat, k, m1, m2)
    stat, k, m1, m2 = best
    return Change(float(t[k]), float(m1), float(m2), float(stat))


def fraction_true(times: np.ndarray, values: np.ndarray, start: float, end: float) -> float:
    """Share of the points in [start, end) where the value is 1 (NaN counts as 0)."""
    mask = (times >= start) & (times < end)
    if not mask.any():
        return math.nan
    return float(np.nan_to_num(values[mask]).astype(bool).mean())


def first_true(times: np.ndarray, values: np.ndarray) -> float | None:
    hits = np.nonzero(np.nan_to_num(values) > 0.5)[0]
    return float(times[hits[0]]) if len(hits) else None


def _mean(x: np.ndarray) -> float:
    return float(x.mean()) if len(x) >= MIN_POINTS else math.nan
