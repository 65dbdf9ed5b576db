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

    def __init__(self, service: str = "svc", window: Window = WINDOW, **by_signal: list[Series]):
        signals = Signals(service, window.rate_window)
        self.by_query = {getattr(signals, name)(): series for name, series in by_signal.items()}
        self.queries: list[str] = []

    def range(self, query, start, end, step):
        self.queries.append(query)
        return self.by_query.get(query, [])


def series(values, **labels) -> Series:
    return Series(labels, TIMES, np.asarray(values, dtype=float))
