"""A Prometheus that answers canned series, by the signal whose query asked for them."""

from __future__ import annotations

import numpy as np

from mlobs.investigate.prometheus import Series
from mlobs.investigate.signals import Signals
from mlobs.investigate.window import Window

WINDOW = Window(0.0, 180.0, min_step=3.0)
TIMES = np.arange(0.0, 180.0, 3.0)


class Answers:
    """Each query answered from the series given for the signal that built it; any other query gets none."""

    def __init__(self, service: str = "svc", window: Window = WINDOW, counts=None, **by_signal: list[Series]):
        """`counts(query, at)`: the value of an instant query (a count over a range), or None."""
        signals = Signals(service, window.rate_window)
        self.by_query = {getattr(signals, name)(): series for name, series in by_signal.items()}
        self.counts = counts or (lambda query, at: None)
        self.queries: list[str] = []

    def range(self, query, start, end, step):
        self.queries.append(query)
        return self.by_query.get(query, [])

    def instant(self, query, at):
        self.queries.append(query)
        value = self.counts(query, at)
        return [] if value is None else [({}, float(value))]


def series(values, **labels) -> Series:
    return Series(labels, TIMES, np.asarray(values, dtype=float))
