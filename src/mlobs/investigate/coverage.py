"""What the range holds at all: when Prometheus could not scrape the service, and whether it had traffic.

A service's own metrics say nothing about the moments nobody scraped it, nor about a range without a
request: the report says so rather than call such a range healthy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlobs.investigate.prometheus import Series

# One missed scrape (a busy moment past the scrape timeout) is not a gap.
MIN_GAP_POINTS = 2


@dataclass(frozen=True)
class Gap:
    start: float
    end: float
    target: str = ""  # the one target not scraped while others were; "" when no target of the job was
    targets: int = 0  # how many targets the job had


def unscraped(up: list[Series], end: float) -> list[Gap]:
    """Spans in which no target of the job was up, after its first scrape in the range, then spans in which
    one target failed its scrapes while others were up. A span still open at the range's end runs to `end`."""
    if not up:
        return []
    times = up[0].times
    values = np.vstack([s.values for s in up])
    any_up = np.fmax.reduce(values, axis=0)
    seen = np.isfinite(any_up)
    if not seen.any():
        return []
    # No `up` at all after the job's first scrape (every target gone) is not scraped either.
    all_down = (~seen | (np.nan_to_num(any_up) < 0.5)) & (np.arange(len(times)) >= np.argmax(seen))
    gaps = [Gap(a, b) for a, b in _spans(times, all_down, end)]
    if len(up) > 1:
        for series in up:
            # Only a failed scrape (`up` 0): a target that left service discovery (a replaced pod) has no gap.
            down = (series.values < 0.5) & ~all_down
            gaps += [Gap(a, b, series.labels.get("instance", "?"), len(up)) for a, b in _spans(times, down, end)]
    return gaps


def _spans(times: np.ndarray, down: np.ndarray, end: float) -> list[tuple[float, float]]:
    spans, i = [], 0
    while i < len(down):
        if not down[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(down) and down[j + 1]:
            j += 1
        if j - i + 1 >= MIN_GAP_POINTS:
            spans.append((float(times[i]), end if j == len(down) - 1 else float(times[j + 1])))
        i = j + 1
    return spans


def has_traffic(series: list[Series]) -> bool:
    """Any request at all in the range (a rate above zero at some point)."""
    return any((np.nan_to_num(s.values) > 0).any() for s in series)
