"""The detector interface: the exporter only knows this, so the engine behind it can be swapped."""

from __future__ import annotations

from collections.abc import Sequence
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


def per_feature_results(name: str, features: Sequence[str], data: dict) -> list[DriftResult]:
    """One result per feature from an Alibi Detect feature-wise test's `data` (p_val, distance, threshold)."""
    p_values = np.atleast_1d(data["p_val"]).astype(float)
    statistics = np.atleast_1d(data["distance"]).astype(float)
    threshold = float(data["threshold"])
    return [
        DriftResult(name, feature, float(p), float(s), threshold, bool(p < threshold))
        for feature, p, s in zip(features, p_values, statistics)
    ]


def as_images(x: np.ndarray) -> np.ndarray:
    """(samples, height, width) or (samples, channels, height, width) -> contiguous float32 NCHW."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 3:
        x = x[:, None, :, :]
    if x.ndim != 4:
        raise ValueError(
            f"images must be (samples, height, width) or (samples, channels, height, width), got {x.shape}"
        )
    return np.ascontiguousarray(x)
