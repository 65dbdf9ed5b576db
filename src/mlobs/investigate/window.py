"""The time range an investigation reads: `--since 2h`, or `--from` and `--to`."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_POINTS = 240


@dataclass(frozen=True)
class Window:
    start: float
    end: float
    # The finest grid: 15 s suits production scrape intervals; a stack scraped every second may go lower.
    min_step: float = 15.0

    @property
    def step(self) -> float:
        """Grid spacing so that a range query returns at most MAX_POINTS points (never under `min_step`)."""
        return max(self.min_step, (self.end - self.start) / MAX_POINTS)

    @property
    def rate_window(self) -> str:
        """The rate() range for one grid point: four steps, so that a 15 s scrape gives several samples."""
        return f"{int(self.step * 4)}s"

    def widened(self, factor: float) -> Window:
        """The same end, `factor` times as long."""
        return Window(self.end - factor * (self.end - self.start), self.end, self.min_step)


def parse_duration(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd])", text.strip())
    if not match:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30m, 2h, 1d)")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_time(text: str) -> float:
    """Unix seconds, or an ISO 8601 time (UTC when it has no offset)."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not a time: {text!r} (use unix seconds or e.g. 2026-12-04T10:00:00Z)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def resolve(since: str | None, start: str | None, end: str | None, now: float | None = None) -> Window:
    now = time.time() if now is None else now
    if start is not None:
        window = Window(parse_time(start), parse_time(end) if end is not None else now)
    else:
        stop = parse_time(end) if end is not None else now
        window = Window(stop - parse_duration(since or "2h"), stop)
    if window.end - window.start < 300:
        raise ValueError("the time range must cover at least 5 minutes")
    return window
