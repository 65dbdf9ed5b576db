"""Tests that see a drifting share of traffic: each input gets a score (the model's uncertainty, or how
unlike the reference an image is), and a one-sided two-proportion test asks whether more inputs of the
window exceed the reference's own 90% quantile of that score than the reference's own share. A window
where 10% of inputs are shifted moves a whole-window KS statistic by at most 10% of the shift, but doubles
or triples the count of inputs past the quantile."""

from __future__ import annotations

import numpy as np

from mlobs.drift.detectors.base import DriftResult, require_fitted


def uncertainty(probs: np.ndarray) -> np.ndarray:
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2:
        raise ValueError(f"softmax outputs must be 2-D (samples, classes), got shape {probs.shape}")
    return 1.0 - probs.max(axis=1)


def exceedance_p_value(k: int, n: int, r: int, m: int) -> float:
    """One-sided p-value that a window's rate k/n of inputs past the cut exceeds the reference's r/m.

    A two-proportion z-test (pooled variance), not a binomial test against r/m as if it were exact:
    the cut and the rate come from a reference of m rows, and a binomial test that ignores that
    sampling error flags far more than its level on a fixed reference."""
    from scipy.stats import norm

    pooled = (k + r) / (n + m)
    if pooled <= 0.0 or pooled >= 1.0:
        return 1.0
    z = (k / n - r / m) / np.sqrt(pooled * (1.0 - pooled) * (1.0 / n + 1.0 / m))
    return float(norm.sf(z))


class ConfidenceExceedance:
    """Per-input score: uncertainty of the model's answer (reads the shipped probabilities)."""

    def __init__(self, p_value: float = 0.05, quantile: float = 0.9, name: str = "confidence_exceedance") -> None:
        if not 0.5 <= quantile < 1.0:
            raise ValueError(f"quantile must be in [0.5, 1), got {quantile}")
        self.name = name
        self.p_value = p_value
        self.quantile = quantile
        self.cut: float | None = None
        self.base_rate: float | None = None

    def scores(self, x: np.ndarray) -> np.ndarray:
        return uncertainty(x)

    def fit(self, reference: np.ndarray) -> None:
        scores = self.scores(reference)
        self.cut = float(np.quantile(scores, self.quantile))
        # The reference's own exceedance count, not 1 - quantile: ties at the cut would bias the latter.
        self.reference_rows = len(scores)
        self.reference_exceeding = int(np.sum(scores > self.cut))
        self.base_rate = self.reference_exceeding / self.reference_rows

    def score(self, window: np.ndarray) -> list[DriftResult]:
        require_fitted(self.cut, self.name)
        scores = self.scores(window)
        exceeding = int(np.sum(scores > self.cut))
        p_value = exceedance_p_value(exceeding, len(scores), self.reference_exceeding, self.reference_rows)
        return [DriftResult(self.name, "", p_value, exceeding / len(scores), self.p_value, p_value < self.p_value)]


class ImageExceedance(ConfidenceExceedance):
    """Per-input score: how unlike the reference an image is (mean squared z-score of its 4x4-pooled
    pixels against the reference's), so a share of rotated, re-lit or noisy images is seen even where
    the model stays confident. An input detector."""

    POOL = 4

    def __init__(self, p_value: float = 0.05, quantile: float = 0.9, name: str = "image_exceedance") -> None:
        super().__init__(p_value, quantile, name)
        self._mean = self._std = None

    def _pooled(self, x: np.ndarray) -> np.ndarray:
        from mlobs.drift.detectors.base import as_images

        x = as_images(x)
        n, c, h, w = x.shape
        h, w = h // self.POOL * self.POOL, w // self.POOL * self.POOL
        return x[:, :, :h, :w].reshape(n, c, h // self.POOL, self.POOL, w // self.POOL, self.POOL).mean(
            axis=(3, 5)).reshape(n, -1)

    def scores(self, x: np.ndarray) -> np.ndarray:
        pooled = self._pooled(x)
        if pooled.shape[1] != self._mean.shape[0]:
            raise ValueError("images do not match the reference's shape")
        return np.mean(((pooled - self._mean) / self._std) ** 2, axis=1)

    def fit(self, reference: np.ndarray) -> None:
        # Pixel means and spreads from the whole reference: its own images then look slightly more typical
        # than fresh ones (fitted on themselves), a bias of order 1/rows that the calibration at training
        # absorbs. Fitting on one half and counting on the other removes it but halves the rows counted,
        # which measured worse on the digits benchmark (wider test, no lower calibrated rate).
        pooled = self._pooled(reference)
        self._mean, self._std = pooled.mean(axis=0), pooled.std(axis=0) + 1e-3
        super().fit(reference)
