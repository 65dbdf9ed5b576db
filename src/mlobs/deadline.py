"""Waiting on telemetry for a bounded time: a collector that accepts connections and never answers
must not hold a process's shutdown past the orchestrator's grace period (then SIGKILL)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

# What a process's telemetry may take to stop, in all, unless MLOBS_TELEMETRY_SHUTDOWN_S says:
# spans, metrics and log lines still queued after this are dropped (and counted), well inside
# Kubernetes's default 30 s grace period.
SHUTDOWN_S = 5.0

log = logging.getLogger("mlobs.telemetry")


def finished_within(seconds: float, fn: Callable[[], object], name: str = "mlobs-telemetry-stop") -> bool:
    """Run fn() on a daemon thread and wait for it at most `seconds`; True if it finished."""

    def run() -> None:
        try:
            fn()
        except Exception:
            log.exception("stopping telemetry failed")

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    thread.join(max(0.0, seconds))
    return not thread.is_alive()


class Deadline:
    def __init__(self, seconds: float = SHUTDOWN_S):
        self._end = time.monotonic() + seconds

    def left(self) -> float:
        return max(0.0, self._end - time.monotonic())
