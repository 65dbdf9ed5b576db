"""A test that sees a drifting share of traffic: each input's uncertainty (1 - top-class probability)
against the reference's own quantile, and a one-sided binomial test on how many inputs of the window
exceed it. A window where 10% of inputs are shifted moves the whole-window KS statistic by at most
10% of the shift, but doubles or triples the count of inputs past the reference's 90% quantile."""

from __future__ import annotations

import numpy as np

from mlobs.drift.detectors.base import DriftResult, require_fitted


def uncertainty(probs: np.ndarray) -> np.ndarray:
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2:
        raise ValueError(f"softmax outputs must be 2-D (samples, classes), got shape {probs.shape}")
    return 1.0 - probs.max(axis=1)


class ConfidenceExceedance:
    def __init__(self, p_value: float = 0.05, quantile: float = 0.9, name: str = "confidence_exceedance") -> None:
        if not 0.5 <= quantile < 1.0:
            raise ValueError(f"quantile must be in [0.5, 1), got {quantile}")
        self.name = name
        self.p_value = p_value
        self.quantile = quantile
        self.cut: float | None = None
        self.base_rate: float | None = None

    def fit(self, reference: np.ndarray) -> None:
        scores = uncertainty(reference)
        self.cut = float(np.quantile(scores, self.quantile))
        # The reference's own exceedance rate, not 1 - quantile: ties at the cut would bias the latter.
        self.base_rate = float(np.clip(np.mean(scores > self.cut), 1.0 / len(scores), 1.0 - 1.0 / len(scores)))

    def score(self, window: np.ndarray) -> list[DriftResult]:
        from scipy.stats import binom

        require_fitted(self.cut, self.name)
        scores = uncertainty(window)
        exceeding = int(np.sum(scores > self.cut))
        p_value = float(binom.sf(exceeding - 1, len(scores), self.base_rate))
        return [DriftResult(self.name, "", p_value, exceeding / len(scores), self.p_value, p_value < self.p_value)]
