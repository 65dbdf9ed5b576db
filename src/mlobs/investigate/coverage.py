"""What the range holds at all: when Prometheus could not scrape the service, and whether it had traffic.

A service's own metrics say nothing about the moments nobody scraped it, nor about a range without a
request: the report says so rather than call such a range healthy.
"""

from __future__ import annotations

import numpy as np

from mlobs.investigate.prometheus import Series

# One missed scrape (a busy moment past the scrape timeout) is not a gap.
MIN_GAP_POINTS = 2


def unscraped(up: list[Series], end: float) -> list[tuple[float, float]]:
    """Spans (from, to) in which no target of the job was up, after its first scrape in the range; a span
    still open at the range's end runs to `end`."""
    if not up:
        return []
    times = up[0].times
    values = np.nanmax(np.vstack([s.values for s in up]), axis=0) if len(up) > 1 else up[0].values
    seen = np.isfinite(values)
    if not seen.any():
        return []
    # A target that disappeared (no `up` at all) after the job was first scraped is not scraped either.
    down = (~seen | (np.nan_to_num(values) < 0.5)) & (np.arange(len(values)) >= np.argmax(seen))
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
