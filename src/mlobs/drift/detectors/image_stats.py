"""Cheap input statistics per image (mean intensity, contrast, high-frequency energy), each compared
with the reference by a two-sample KS test, Bonferroni-corrected over the statistics (Alibi KSDrift).

Catches input shifts the classifier ignores, such as mild noise: noise barely moves a smooth digit's
softmax but multiplies its high-frequency energy."""

from __future__ import annotations

import numpy as np

from mlobs.drift.detectors.base import DriftResult, as_images, per_feature_results, require_fitted

STATISTICS = ("mean", "std", "laplacian_energy")


def image_statistics(images: np.ndarray) -> np.ndarray:
    """(samples, [channels,] height, width) -> (samples, 3): mean, standard deviation and mean squared
    4-neighbour Laplacian (high-frequency energy) of each image's pixels."""
    x = as_images(images)
    if x.shape[2] < 3 or x.shape[3] < 3:
        raise ValueError(f"images must be at least 3x3 pixels, got {x.shape[2]}x{x.shape[3]}")
    flat = x.reshape(len(x), -1)
    laplacian = (
        4.0 * x[:, :, 1:-1, 1:-1] - x[:, :, :-2, 1:-1] - x[:, :, 2:, 1:-1] - x[:, :, 1:-1, :-2] - x[:, :, 1:-1, 2:]
    )
    energy = np.square(laplacian).reshape(len(x), -1).mean(axis=1)
    return np.column_stack([flat.mean(axis=1), flat.std(axis=1), energy]).astype(np.float32)


class ImageStatsKS:
    def __init__(self, p_value: float = 0.05, name: str = "image_stats") -> None:
        self.name = name
        self.p_value = p_value
        self.features = STATISTICS
        self._engine = None

    def fit(self, reference: np.ndarray) -> None:
        from alibi_detect.cd import KSDrift

        self._engine = KSDrift(image_statistics(reference), p_val=self.p_value, correction="bonferroni")

    def score(self, window: np.ndarray) -> list[DriftResult]:
        require_fitted(self._engine, self.name)
        data = self._engine.predict(image_statistics(window), drift_type="batch")["data"]
        return per_feature_results(self.name, self.features, data)
