"""Drift per segment of traffic (the client that sent it, or a source the service names), with a
bounded `segment` label: the top-N segments by volume get their own value, the rest are "_other".

Volumes are counted over at most CANDIDATES segments per model version (the smallest is forgotten
when a new one arrives), so neither memory nor label values grow with the number of segments seen.
"""

from __future__ import annotations

OTHER = "_other"
CANDIDATES = 64
MAX_SEGMENT_CHARS = 64


class Segments:
    def __init__(self, top_n: int):
        self.top_n = top_n
        self._counts: dict[tuple, dict[str, int]] = {}

    def _top(self, key: tuple) -> set[str]:
        counts = self._counts.get(key, {})
        return set(sorted(counts, key=lambda s: (-counts[s], s))[: self.top_n])

    def count(self, key: tuple, samples: list[dict]) -> None:
        counts = self._counts.setdefault(key, {})
        for sample in samples:
            segment = sample.get("segment")
            if not isinstance(segment, str) or not segment:
                continue
            segment = segment[:MAX_SEGMENT_CHARS]
            if segment not in counts and len(counts) >= CANDIDATES:
                del counts[min(counts, key=counts.__getitem__)]
            counts[segment] = counts.get(segment, 0) + 1

    def split(self, key: tuple, samples: list[dict]) -> dict[str, list[dict]]:
        """Samples by segment label (top-N or "_other"); samples without a segment are left out."""
        top = self._top(key)
        groups: dict[str, list[dict]] = {}
        for sample in samples:
            segment = sample.get("segment")
            if not isinstance(segment, str) or not segment:
                continue
            label = segment[:MAX_SEGMENT_CHARS] if segment[:MAX_SEGMENT_CHARS] in top else OTHER
            groups.setdefault(label, []).append(sample)
        return groups
