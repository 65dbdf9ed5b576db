"""The time a running purge deletes by: the wall clock, held to the real time elapsed.

A raw payload's expiry is its record's time plus the retention, both read from the wall clock, and the
wall clock steps: an NTP correction after a VM resumes, a host booted with a wrong RTC, an operator or
an insider setting it. A purge that trusted it would delete every payload at once after a step forward
of a year (evidence the retention promises to keep), and keep them all after a step back. So the purge
thread also keeps its own time: the wall clock when it started plus the time elapsed since by the boot
clock (which NTP slews but nothing steps, and which counts a suspension). While the two agree, nothing
changes. When they disagree, a purge deletes only what both call expired (the earlier of the two), the
age of the oldest payload held is told by the later (so a step back cannot hide one kept too long), and
the gap is exported (`mlobs_audit_clock_step_seconds`) for an alert: someone decides which clock was
right. A restart trusts the wall clock again.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Callable

STEP_S = 60.0  # seconds of disagreement that count as a step (slewing alone never comes near)


def elapsed() -> float:
    """Seconds since boot, suspended time included (CLOCK_BOOTTIME): a VM or host resumed after hours has
    its wall clock moved on by as much, which is no step. CLOCK_MONOTONIC stands still while suspended."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


if not hasattr(time, "CLOCK_BOOTTIME"):  # not Linux
    elapsed = time.monotonic  # noqa: F811


class PurgeClock:
    def __init__(self, wall: Callable[[], datetime], monotonic: Callable[[], float] = elapsed) -> None:
        self._wall, self._monotonic = wall, monotonic
        self._wall0, self._mono0 = wall(), monotonic()

    def _both(self) -> tuple[datetime, datetime]:
        return self._wall(), self._wall0 + timedelta(seconds=self._monotonic() - self._mono0)

    def step_s(self) -> float:
        """Seconds the wall clock runs ahead of (positive) or behind (negative) the real time elapsed
        since the purge thread started."""
        wall, elapsed = self._both()
        return (wall - elapsed).total_seconds()

    def stepped(self) -> bool:
        return abs(self.step_s()) > STEP_S

    def purge_now(self) -> datetime:
        """The time a purge deletes by: the wall clock, or the real time elapsed if that is earlier by a step."""
        wall, elapsed = self._both()
        return min(wall, elapsed) if abs((wall - elapsed).total_seconds()) > STEP_S else wall

    def age_now(self) -> datetime:
        """The time ages are told by: the wall clock, or the real time elapsed if that is later by a step."""
        wall, elapsed = self._both()
        return max(wall, elapsed) if abs((wall - elapsed).total_seconds()) > STEP_S else wall
