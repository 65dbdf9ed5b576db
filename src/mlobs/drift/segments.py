"""Drift per segment of traffic (the client that sent it, or a source the service names), with a
bounded `segment` label: the top-N segments by volume get their own value, the rest are "_other".

Volumes are counted over at most CANDIDATES segments per model version (the smallest is forgotten
when a new one arrives), so neither memory nor label values grow with the number of segments seen.
A series, once made, stays on /metrics while its stream is tracked: a sender naming a new segment
every window could otherwise push each into the top-N in turn. So a segment already labelled wins a tie, and at most
LABELS_PER_TOP x top-N segments are ever labelled per version; past that, new ones are "_other".
"""

from __future__ import annotations

OTHER = "_other"
CANDIDATES = 64
MAX_SEGMENT_CHARS = 64
LABELS_PER_TOP = 4


class Segments:
    def __init__(self, top_n: int):
        self.top_n = top_n
        self.max_labels = LABELS_PER_TOP * top_n
        self._counts: dict[tuple, dict[str, int]] = {}
        self._labelled: dict[tuple, set[str]] = {}

    def _top(self, key: tuple) -> set[str]:
        counts = self._counts.get(key, {})
        labelled = self._labelled.setdefault(key, set())
        # By volume; on a tie the segment labelled before, then the one seen first (the sort is stable).
        ranked = sorted(counts, key=lambda s: (-counts[s], s not in labelled))[: self.top_n]
        top = set()
        for segment in ranked:
            if segment in labelled or len(labelled) < self.max_labels:
                labelled.add(segment)
                top.add(segment)
        return top

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

    def forget(self, key: tuple) -> None:
        """Drop a retired stream's volumes and labels."""
        self._counts.pop(key, None)
        self._labelled.pop(key, None)
