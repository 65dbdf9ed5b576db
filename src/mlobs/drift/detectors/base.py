"""The detector interface: the exporter only knows this, so the engine behind it can be swapped."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class DriftResult:
    detector: str
    feature: str  # "" when the test is not per feature
    p_value: float
    statistic: float
    threshold: float  # drift when p_value < threshold (after any multiple-testing correction)
    drift: bool


@runtime_checkable
class Detector(Protocol):
    name: str

    def fit(self, reference: np.ndarray) -> None: ...

    def score(self, window: np.ndarray) -> list[DriftResult]: ...


class NotFittedError(RuntimeError):
    pass


def require_fitted(engine: object, name: str) -> None:
    if engine is None:
        raise NotFittedError(f"detector {name!r} scored before fit()")
