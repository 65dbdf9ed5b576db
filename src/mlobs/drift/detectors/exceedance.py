"""Tests that see a drifting share of traffic: each input gets a score (the model's uncertainty, or how
unlike the reference an image or a text is), and a one-sided two-proportion test asks whether more
inputs of the window exceed the reference's own 90% quantile of that score than the reference's own
share. A window where 10% of inputs are shifted moves a whole-window KS statistic by at most 10% of the
shift, but doubles or triples the count of inputs past the quantile."""

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

    def reference_scores(self, reference: np.ndarray) -> np.ndarray:
        """The reference's own scores, as a fresh input from the same source would get them."""
        return self.scores(reference)

    def fit(self, reference: np.ndarray) -> None:
        scores = self.reference_scores(reference)
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
    """Per-input score: how unlike the reference an image is, as its squared pixel distance to the nearest
    reference image, so a share of rotated, re-lit or noisy images is seen even where the model stays
    confident. A reference image is scored against the others (leave one out), as a fresh image would be.
    An input detector; a window costs one (window x reference) matrix product over the pixels."""

    def __init__(self, p_value: float = 0.05, quantile: float = 0.9, name: str = "image_exceedance") -> None:
        super().__init__(p_value, quantile, name)
        self._reference: np.ndarray | None = None
        self._norms: np.ndarray | None = None

    @staticmethod
    def _flat(x: np.ndarray) -> np.ndarray:
        from mlobs.drift.detectors.base import as_images

        x = as_images(x)
        return x.reshape(len(x), -1).astype(np.float64)

    def _distances(self, flat: np.ndarray) -> np.ndarray:
        if flat.shape[1] != self._reference.shape[1]:
            raise ValueError("images do not match the reference's shape")
        squared = (flat * flat).sum(axis=1)[:, None] + self._norms[None, :] - 2.0 * flat @ self._reference.T
        return np.maximum(squared, 0.0)

    def scores(self, x: np.ndarray) -> np.ndarray:
        require_fitted(self._reference, self.name)
        return self._distances(self._flat(x)).min(axis=1)

    def reference_scores(self, reference: np.ndarray) -> np.ndarray:
        distances = self._distances(self._flat(reference))
        np.fill_diagonal(distances, np.inf)
        return distances.min(axis=1)

    def fit(self, reference: np.ndarray) -> None:
        flat = self._flat(reference)
        if len(flat) < 2:
            raise ValueError("image_exceedance needs a reference of at least 2 images")
        self._reference, self._norms = flat, (flat * flat).sum(axis=1)
        super().fit(reference)
