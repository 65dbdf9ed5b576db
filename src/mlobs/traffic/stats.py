"""Counts and latencies of one traffic run, and the summary printed at its end."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list (q in 0..100)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def _latency_ms(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50": percentile(ordered, 50) * 1000,
        "p90": percentile(ordered, 90) * 1000,
        "p99": percentile(ordered, 99) * 1000,
        "max": (ordered[-1] * 1000) if ordered else math.nan,
    }


@dataclass
class _KindStats:
    sent: int = 0
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)


@dataclass
class Stats:
    """Filled by the runner while it runs; read for the progress line and the summary."""

    skipped: int = 0  # due while `concurrency` requests were in flight
    behind: int = 0  # due while this client was too busy to send it on time
    elapsed_s: float = 0.0
    kinds: dict[str, _KindStats] = field(default_factory=lambda: defaultdict(_KindStats))
    scenarios: Counter = field(default_factory=Counter)

    def record_response(self, kind: str, status: int, latency_s: float) -> None:
        entry = self.kinds[kind]
        entry.sent += 1
        entry.statuses[status] += 1
        entry.latencies.append(latency_s)

    def record_error(self, kind: str, error: str) -> None:
        entry = self.kinds[kind]
        entry.sent += 1
        entry.errors[error] += 1

    def _primary(self) -> list[_KindStats]:
        return [v for k, v in self.kinds.items() if k != "feedback"]

    @property
    def sent(self) -> int:
        """Requests sent on schedule (feedback follow-ups not included)."""
        return sum(v.sent for v in self._primary())

    @property
    def feedback_sent(self) -> int:
        return self.kinds["feedback"].sent if "feedback" in self.kinds else 0

    @property
    def statuses(self) -> Counter:
        total: Counter = Counter()
        for v in self.kinds.values():
            total.update(v.statuses)
        return total

    @property
    def errors(self) -> Counter:
        total: Counter = Counter()
        for v in self.kinds.values():
            total.update(v.errors)
        return total

    @property
    def succeeded(self) -> int:
        return sum(n for status, n in self.statuses.items() if 200 <= status < 300)

    def achieved_rate(self) -> float:
        return self.sent / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        primary = [lat for v in self._primary() for lat in v.latencies]
        return {
            "sent": self.sent,
            "feedback_sent": self.feedback_sent,
            "skipped": self.skipped,
            "behind": self.behind,
            "elapsed_s": self.elapsed_s,
            "achieved_rate": self.achieved_rate(),
            "statuses": dict(sorted(self.statuses.items())),
            "errors": dict(sorted(self.errors.items())),
            "scenarios": dict(self.scenarios),
            "latency_ms": _latency_ms(primary),
            "kinds": {
                kind: {
                    "sent": v.sent,
                    "statuses": dict(sorted(v.statuses.items())),
                    "errors": dict(sorted(v.errors.items())),
                    "latency_ms": _latency_ms(v.latencies),
                }
                for kind, v in sorted(self.kinds.items())
            },
        }


def _counts(counter: dict) -> str:
    return "  ".join(f"{key}: {n}" for key, n in counter.items()) or "none"


def format_summary(stats: Stats, rate: float) -> str:
    d = stats.as_dict()
    lat = d["latency_ms"]
    lines = [
        f"requests sent: {d['sent']} in {d['elapsed_s']:.1f} s "
        f"(achieved {d['achieved_rate']:.1f} req/s, target {rate:g}), feedback sent: {d['feedback_sent']}",
        f"skipped (concurrency limit reached, not sent): {d['skipped']}",
        *([f"behind schedule (client too slow for this rate, not sent): {d['behind']}"] if d["behind"] else []),
        f"by status: {_counts(d['statuses'])}",
        f"errors: {_counts(d['errors'])}",
        f"by scenario: {_counts(d['scenarios'])}",
        f"latency ms (requests): p50 {lat['p50']:.1f}  p90 {lat['p90']:.1f}  p99 {lat['p99']:.1f}"
        f"  max {lat['max']:.1f}",
        f"{'kind':<22}{'sent':>7}{'2xx':>7}{'4xx':>7}{'5xx':>7}{'error':>7}{'p50 ms':>9}{'p99 ms':>9}",
    ]
    for kind, k in d["kinds"].items():
        by_class: Counter = Counter()
        for status, n in k["statuses"].items():
            by_class[status // 100] += n
        lines.append(
            f"{kind:<22}{k['sent']:>7}{by_class[2]:>7}{by_class[4]:>7}{by_class[5]:>7}"
            f"{sum(k['errors'].values()):>7}{k['latency_ms']['p50']:>9.1f}{k['latency_ms']['p99']:>9.1f}"
        )
    return "\n".join(lines)
